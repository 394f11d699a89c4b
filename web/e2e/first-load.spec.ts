// A cold first load of the agent screen: fresh context (no cache, no cookies), the login page,
// log in, and the accept form ready for typing. The time it takes is printed here; the 1.5 s
// target is checked by the benchmark (`npm run bench:first-load`, release server, quiet machine),
// since the debug server of these tests shares two cores with the browser.
import { coldLoadAgentScreen, expect, PASSWORD, shot, test } from './fixtures'

test('agent screen cold first load: login, then the accept form ready for typing', async ({ browser, baseURL }) => {
  const timing = await coldLoadAgentScreen(browser, baseURL!)
  console.log(`agent screen first load: ${timing.interactive} ms (debug server)`)
  console.log(`  (DOMContentLoaded ${timing.domContentLoaded} ms, ${timing.requests} requests, ${timing.scriptKb} KB of scripts)`)
  // The accept-ready mark is set once the form can take the caller's number.
  expect(timing.marked).toBe(true)
  expect(timing.interactive).toBeGreaterThan(0)
  expect(timing.scriptKb).toBeGreaterThan(0)
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
