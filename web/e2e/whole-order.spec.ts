// One whole order, each step by the role that does it in its own browser context:
// citizen submits on /portal → dispatcher dispatches to 住建局 → handler signs and replies →
// dispatcher checks → callback user calls back (satisfied, resolved) → closed; the citizen
// follows the progress and the reply with the query code.
import { expect, shot, test, watchPageErrors } from './fixtures'
import { callbackCloses, dispatcherChecks, dispatcherDispatches, handlerSignsAndReplies } from './steps'

test('a citizen request from the portal goes all the way to closed', async ({ browser, baseURL }) => {
  const reply = '经现场核查，物业公司已于当日恢复供水并张贴公告，后续将加强设备巡检。'

  // 1. The citizen, on a phone, submits a request.
  const citizen = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'zh-CN' })
  const portal = await citizen.newPage()
  const problems = watchPageErrors(portal)
  await portal.goto('/portal')
  const form = portal.getByTestId('portal-form')
  await expect(form).toBeVisible()
  await form.locator('label.chip', { hasText: '投诉' }).click()
  await form.locator('select[name=category]').selectOption({ label: '城乡建设' })
  await form.locator('select[name=category-1]').selectOption({ label: '住房保障与房地产' })
  await form.locator('select[name=category-2]').selectOption({ label: '物业服务' })
  await form.locator('select[name=region_code]').selectOption({ label: 'A市' })
  await form.locator('select[name=region_code-1]').selectOption({ label: 'A1区' })
  await form.locator('select[name=region_code-2]').selectOption({ label: '北路街道' })
  await form.locator('input[name=address]').fill('A1区北路街道丽景小区 3 栋')
  await form.locator('textarea[name=content]').fill('丽景小区 3 栋从昨晚开始停水，物业没有任何通知，老人孩子生活很不方便，请尽快恢复供水。')
  await form.locator('input[name=name]').fill('李女士')
  await form.locator('input[name=phone]').fill('13912345678')
  await portal.locator('input[name=phone]').blur()
  await portal.evaluate(() => window.scrollTo(0, 0))
  await shot(portal, 'portal.png')
  await portal.getByTestId('portal-submit').click()
  const created = portal.getByTestId('portal-created')
  await expect(created).toBeVisible()
  const number = (await portal.getByTestId('portal-number').textContent())!.trim()
  const code = (await portal.getByTestId('portal-code').textContent())!.trim()
  expect(number).toMatch(/^\d{4}-\d{2}-\d{2}-\d+$/)
  expect(code.length).toBeGreaterThan(3)
  await shot(portal, 'portal-created.png')

  // 2–4. Staff handle it, each in their own session.
  await dispatcherDispatches(browser, number, true)
  await handlerSignsAndReplies(browser, number, reply, true)
  await dispatcherChecks(browser, number, reply)

  // 5. The citizen checks progress with number + code and reads the checked reply; the
  //    rating form is offered (the rating itself is tested in portal-rating.spec.ts).
  await portal.goto('/portal')
  await portal.getByTestId('portal-tab-query').click()
  await portal.locator('input[name=number]').fill(number)
  await portal.locator('input[name=code]').fill(code)
  await portal.getByRole('button', { name: '查询', exact: true }).click()
  await expect(portal.getByTestId('portal-result')).toBeVisible()
  await expect(portal.getByTestId('portal-status')).toHaveText('待回访')
  await expect(portal.getByTestId('portal-reply')).toContainText(reply)
  await expect(portal.getByTestId('portal-rate')).toBeVisible()

  // 6. The callback user calls back: satisfied and resolved closes the order.
  await callbackCloses(browser, number, true)

  // 7. The citizen sees the order closed (the link with number and code opens it directly).
  await portal.goto(`/portal?number=${encodeURIComponent(number)}&code=${encodeURIComponent(code)}`)
  await expect(portal.getByTestId('portal-status')).toHaveText('已办结')
  await expect(portal.getByTestId('portal-reply')).toContainText(reply)
  await expect(portal.getByTestId('portal-rating')).toContainText('满意')
  await expect(portal.getByTestId('portal-rate')).toHaveCount(0)
  await shot(portal, 'portal-progress.png')

  // A wrong code finds nothing.
  await portal.locator('input[name=code]').fill('WRONG0')
  await portal.getByRole('button', { name: '查询', exact: true }).click()
  await expect(portal.getByTestId('portal-query-error')).toContainText('未找到')
  await citizen.close()
  expect(problems, 'page errors / CSP violations').toEqual([])
})
