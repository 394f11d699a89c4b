// The citizen rates the reply on the portal (instead of a callback): satisfied closes the order.
// The staff steps go through the API here; the whole-order test does them in the UI.
import { apiAs, expect, test, watchPageErrors } from './fixtures'

test('a citizen rates the checked reply on the portal', async ({ browser, baseURL }) => {
  const citizen = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 }, isMobile: true, locale: 'zh-CN' })
  const portal = await citizen.newPage()
  const problems = watchPageErrors(portal)
  await portal.goto('/portal')
  const form = portal.getByTestId('portal-form')
  // Submitting without the required fields names them.
  await portal.getByTestId('portal-submit').click()
  await expect(form.getByText('请选择诉求类型')).toBeVisible()
  await expect(form.getByText('请描述您反映的问题')).toBeVisible()
  await form.locator('label.chip', { hasText: '求助' }).click()
  await form.locator('textarea[name=content]').fill('小区门口路灯坏了一个多月，晚上出行很不安全。')
  await form.locator('input[name=phone]').fill('138')
  await portal.getByTestId('portal-submit').click()
  await expect(form.getByText('电话号码无效')).toBeVisible()
  await form.locator('input[name=phone]').fill('13812340000')
  await portal.getByTestId('portal-submit').click()
  const number = (await portal.getByTestId('portal-number').textContent())!.trim()
  await expect(portal.getByTestId('portal-code')).not.toBeEmpty()

  // Not rateable before the reply.
  await portal.getByRole('button', { name: '查询进度' }).click()
  await expect(portal.getByTestId('portal-status')).toHaveText('待审核')
  await expect(portal.getByTestId('portal-rate')).toHaveCount(0)

  const dispatcher = await apiAs(browser, 'dispatcher')
  const handler = await apiAs(browser, 'handler')
  const found = await (await dispatcher.request.get(`/api/orders?number=${number}`)).json()
  const id = found.items[0].id
  const ok = async (r: Promise<{ ok(): boolean; text(): Promise<string> }>) => {
    const res = await r
    expect(res.ok(), await res.text()).toBeTruthy()
  }
  await ok(dispatcher.request.post(`/api/orders/${id}/dispatch`, { data: { targets: [{ unit_id: 2, role: 'lead' }] } }))
  await ok(handler.request.post(`/api/orders/${id}/sign`, { data: {} }))
  await ok(handler.request.post(`/api/orders/${id}/reply`, { data: { content: '已更换路灯灯具，恢复照明。', contacted_citizen: true } }))
  await ok(dispatcher.request.post(`/api/orders/${id}/check`, { data: { approve: true } }))
  await dispatcher.close()
  await handler.close()

  await portal.getByRole('button', { name: '查询', exact: true }).click()
  await expect(portal.getByTestId('portal-reply')).toContainText('已更换路灯灯具')
  const rate = portal.getByTestId('portal-rate')
  await rate.getByRole('button', { name: '提交评价' }).click()
  await expect(rate.getByText('请选择满意程度')).toBeVisible()
  await rate.locator('label.chip', { hasText: '基本满意' }).click()
  await rate.locator('textarea[name=comment]').fill('处理及时，谢谢')
  await rate.getByRole('button', { name: '提交评价' }).click()
  await expect(portal.getByTestId('portal-rating')).toContainText('基本满意')
  await expect(portal.getByTestId('portal-status')).toHaveText('已办结')
  await expect(portal.getByTestId('portal-rate')).toHaveCount(0)
  await citizen.close()
  expect(problems, 'page errors / CSP violations').toEqual([])
})
