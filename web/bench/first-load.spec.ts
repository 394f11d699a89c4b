// Benchmark: the agent screen's first load with a cold cache on loopback (issue 4: < 1.5 s).
// Waits until the demo server has finished its start-up work (its CPU time), then loads the screen cold
// `JIESU_FIRST_LOAD_RUNS` times (default 7) and prints every run, the median and the worst.
// Run it on a quiet machine: `npm run bench:first-load` (release server by default).
import { existsSync, readFileSync } from 'node:fs'
import { coldLoadAgentScreen, expect, test } from '../e2e/fixtures'

const TARGET_MS = 1500

test('first load of the agent screen, cold cache', async ({ browser, baseURL, request }) => {
  // The demo's start-up work (hot spots, dispatch models, the search index) takes both cores
  // for some seconds: wait until the server has used under 5% of a core for two seconds.
  const pid = process.env.JIESU_E2E_SERVER_PID
  const cpuTicks = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime + stime, in clock ticks (1/100 s)
  }
  if (pid && existsSync(`/proc/${pid}/stat`)) {
    let before = cpuTicks()
    for (let i = 0, quiet = 0; i < 180 && quiet < 2; i++) {
      await new Promise((r) => setTimeout(r, 1000))
      const now = cpuTicks()
      quiet = now - before < 5 ? quiet + 1 : 0
      before = now
    }
  } else {
    // Not on Linux, or a server started elsewhere (JIESU_UI_URL): give it time instead.
    await new Promise((r) => setTimeout(r, 30_000))
  }
  expect((await request.get('/api/health')).ok()).toBe(true)

  const runs = Number(process.env.JIESU_FIRST_LOAD_RUNS ?? 7)
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = await coldLoadAgentScreen(browser, baseURL!)
    expect(t.marked).toBe(true)
    times.push(t.interactive)
    console.log(`run ${i + 1}: ${t.interactive} ms (DOMContentLoaded ${t.domContentLoaded} ms, ${t.requests} requests, ${t.scriptKb} KB of scripts)`)
    if (i === 0) console.log(`  last requests: ${t.last.map((r) => `${r.path} ${r.start}–${r.end}`).join(', ')}`)
  }
  const sorted = [...times].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]
  const worst = sorted[sorted.length - 1]
  console.log(`first load of the agent screen: median ${median} ms, best ${sorted[0]} ms, worst ${worst} ms over ${runs} cold loads (target < ${TARGET_MS} ms)`)
  expect(median, `median first load ${median} ms`).toBeLessThan(TARGET_MS)
})
