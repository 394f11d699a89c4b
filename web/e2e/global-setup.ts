// Starts a real Jiesu server with fresh demo data for the browser tests, and stops it after.
//
//   JIESU_BIN      the server binary (default $CARGO_TARGET_DIR/debug/jiesu, CARGO_TARGET_DIR
//                  defaulting to ~/.cache/jiesu-target as in scripts/test.sh)
//   JIESU_UI_URL   use this running UI (and its /api) as is; starts nothing
//   JIESU_E2E_VITE 1: serve web/dist with `vite preview` (proxying /api to the server) even when
//                  the binary serves the UI itself
//
// The base URL reaches the tests as JIESU_E2E_BASE_URL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The newest modification time of the UI sources (to rebuild a stale `dist`). */
function newestSource(): number {
  let newest = 0
  const walk = (p: string) => {
    const st = statSync(p)
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of ['src', 'index.html', 'vite.config.ts', 'package.json']) walk(join(webDir, p))
  return newest
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

async function waitFor(url: string, ok: (r: Response) => Promise<boolean> | boolean, ms: number, what: string, proc?: ChildProcess) {
  const until = Date.now() + ms
  let last = ''
  while (Date.now() < until) {
    if (proc && proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode}`)
    try {
      const r = await fetch(url)
      if (await ok(r)) return
      last = `HTTP ${r.status}`
    } catch (e) {
      last = String(e)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${what} did not come up at ${url} within ${ms} ms (${last})`)
}

function stop(p: ChildProcess | undefined) {
  if (!p || p.exitCode !== null || p.pid === undefined) return
  try {
    process.kill(-p.pid, 'SIGTERM')
  } catch {
    p.kill('SIGTERM')
  }
}

export default async function globalSetup() {
  if (process.env.JIESU_UI_URL) {
    process.env.JIESU_E2E_BASE_URL = process.env.JIESU_UI_URL.replace(/\/$/, '')
    return async () => {}
  }

  // A debug server and `vite preview` both serve web/dist from disk: make sure it is current.
  const index = join(webDir, 'dist', 'index.html')
  if (!existsSync(index) || statSync(index).mtimeMs < newestSource()) {
    console.log('e2e: building web/dist (missing or older than the sources)')
    const b = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: webDir, stdio: 'inherit' })
    if (b.status !== 0) throw new Error('vite build failed')
  }
  const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'jiesu-target')
  const bin = process.env.JIESU_BIN ?? join(targetDir, 'debug', 'jiesu')
  if (!existsSync(bin)) throw new Error(`Jiesu binary not found: ${bin} (set JIESU_BIN)`)
  const dataDir = mkdtempSync(join(tmpdir(), 'jiesu-e2e-'))
  const apiPort = await freePort()
  const api = `http://127.0.0.1:${apiPort}`
  const server = spawn(bin, ['demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${apiPort}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  })
  let stderr = ''
  server.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const children: ChildProcess[] = [server]
  const teardown = async () => {
    for (const c of children.reverse()) stop(c)
    await new Promise((r) => setTimeout(r, 300))
    rmSync(dataDir, { recursive: true, force: true })
  }

  try {
    await waitFor(`${api}/api/health`, (r) => r.ok, 120_000, 'jiesu', server)

    // Does the binary serve the built UI itself (index.html at / and SPA fallback)?
    let servesUi = false
    try {
      const r = await fetch(`${api}/portal`, { redirect: 'manual' })
      const html = r.ok && (r.headers.get('content-type') ?? '').includes('text/html') ? await r.text() : ''
      // The built app, not the server's "UI not built" placeholder.
      servesUi = html.includes('id="app"') && html.includes('/assets/')
    } catch {
      servesUi = false
    }

    if (servesUi && process.env.JIESU_E2E_VITE !== '1') {
      process.env.JIESU_E2E_BASE_URL = api
    } else {
      const uiPort = await freePort()
      const vite = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(uiPort), '--strictPort'], {
        cwd: webDir,
        stdio: 'ignore',
        detached: true,
        env: { ...process.env, JIESU_API: api },
      })
      children.push(vite)
      const ui = `http://127.0.0.1:${uiPort}`
      await waitFor(`${ui}/api/health`, (r) => r.ok, 60_000, 'vite preview', vite)
      process.env.JIESU_E2E_BASE_URL = ui
    }
    process.env.JIESU_E2E_API_URL = api
    if (server.pid !== undefined) process.env.JIESU_E2E_SERVER_PID = String(server.pid)
    console.log(`e2e: UI ${process.env.JIESU_E2E_BASE_URL}, API ${api}, data ${dataDir}`)
  } catch (e) {
    await teardown()
    throw new Error(`${(e as Error).message}\n${stderr}`)
  }
  return teardown
}
