// Benchmark: the agent screen's first load with a cold cache on loopback (issue 4: < 1.5 s).
// Waits until the demo server has finished its start-up work, then loads the screen cold
// `JIESU_FIRST_LOAD_RUNS` times (default 7) and prints every run, the median and the worst.
// Run it on a quiet machine: `npm run bench:first-load` (release server by default).
import { coldLoadAgentScreen, expect, test } from '../e2e/fixtures'

const TARGET_MS = 1500

test('first load of the agent screen, cold cache', async ({ browser, baseURL, request }) => {
  // The demo's start-up warm-up (hot spots, dispatch models) runs for some seconds: wait until
  // a health check answers quickly three times in a row.
  let quick = 0
  for (let i = 0; i < 240 && quick < 3; i++) {
    const t = Date.now()
    expect((await request.get('/api/health')).ok()).toBe(true)
    quick = Date.now() - t < 20 ? quick + 1 : 0
    await new Promise((r) => setTimeout(r, 500))
  }

  const runs = Number(process.env.JIESU_FIRST_LOAD_RUNS ?? 7)
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = await coldLoadAgentScreen(browser, baseURL!)
    expect(t.marked).toBe(true)
    times.push(t.interactive)
    console.log(`run ${i + 1}: ${t.interactive} ms (DOMContentLoaded ${t.domContentLoaded} ms, ${t.requests} requests, ${t.scriptKb} KB of scripts)`)
  }
  const sorted = [...times].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]
  const worst = sorted[sorted.length - 1]
  console.log(`first load of the agent screen: median ${median} ms, best ${sorted[0]} ms, worst ${worst} ms over ${runs} cold loads (target < ${TARGET_MS} ms)`)
  expect(median, `median first load ${median} ms`).toBeLessThan(TARGET_MS)
})
