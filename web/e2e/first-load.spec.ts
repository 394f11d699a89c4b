// A cold first load of the agent screen: fresh context (no cache, no cookies), the login page,
// log in, and the accept form ready for typing. Timed from the navigation start.
import { expect, PASSWORD, shot, test } from './fixtures'

test('agent screen first load is under 1.5 s', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 1440, height: 900 } })
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
  await cdp.send('Network.clearBrowserCache')

  await page.goto('/login', { waitUntil: 'commit' })
  await page.locator('input[name=username]').fill('agent')
  await page.locator('input[name=password]').fill(PASSWORD)
  await page.locator('input[name=password]').press('Enter')
  const form = page.locator('[data-testid=accept-form][data-ready=true]')
  await expect(form).toBeVisible({ timeout: 15_000 })
  await expect(page.locator('input[name=phone]')).toBeFocused()

  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
    const scripts = resources.filter((r) => r.initiatorType === 'script' || r.name.endsWith('.js'))
    const ready = performance.getEntriesByName('jiesu:accept-ready')[0]
    return {
      interactive: Math.round((ready ? ready.startTime : performance.now()) - (nav?.startTime ?? 0)),
      domContentLoaded: Math.round(nav?.domContentLoadedEventEnd ?? 0),
      requests: resources.length,
      scriptKb: Math.round(scripts.reduce((s, r) => s + (r.encodedBodySize || r.transferSize || 0), 0) / 1024),
    }
  })
  console.log(`agent screen first load: ${timing.interactive} ms`)
  console.log(`  (DOMContentLoaded ${timing.domContentLoaded} ms, ${timing.requests} requests, ${timing.scriptKb} KB of scripts)`)
  expect(timing.interactive).toBeLessThan(1500)
  await context.close()
})

test('keyboard only: fill and submit the accept form', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 1440, height: 900 } })
  const page = await context.newPage()
  await page.goto('/login')
  // Log in with the keyboard too: the user name field has focus.
  await expect(page.locator('input[name=username]')).toBeFocused()
  await page.keyboard.type('agent')
  await page.keyboard.press('Tab')
  await page.keyboard.type(PASSWORD)
  await page.keyboard.press('Enter')
  await expect(page.locator('[data-testid=accept-form][data-ready=true]')).toBeVisible()

  // The phone field has focus; Tab walks the form in reading order.
  const k = page.keyboard
  await expect(page.locator('input[name=phone]')).toBeFocused()
  await k.type('13600002222')
  await k.press('Tab')
  await expect(page.locator('input[name=name]')).toBeFocused()
  await k.type('赵女士')
  // Alt+2 jumps to the request type; the arrow keys choose it.
  await k.press('Alt+2')
  await k.press('ArrowRight') // 投诉 → 举报
  await k.press('ArrowLeft') // back to 投诉
  await k.press('ArrowLeft') // 求助
  await expect(page.locator('[data-field=request_type] .el-radio-button.is-active')).toHaveText('求助')
  // Alt+5 jumps to the content.
  await k.press('Alt+5')
  await expect(page.locator('textarea[name=content]')).toBeFocused()
  await k.type('家门口下水道井盖缺失，夜间行人容易踩空，请尽快补装。')
  await shot(page, 'agent-accept-keyboard.png')
  await k.press('Control+Enter')
  await expect(page.getByTestId('created')).toBeVisible()
  await expect(page.getByTestId('created-number')).toHaveText(/^\d{4}-\d{2}-\d{2}-\d+$/)
  // Ready for the next call: the phone field has focus again and the form is empty.
  await expect(page.locator('input[name=phone]')).toBeFocused()
  await expect(page.locator('textarea[name=content]')).toHaveValue('')
  await context.close()
})
