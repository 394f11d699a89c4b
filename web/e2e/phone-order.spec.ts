// A call taken by an agent goes the same way: accept → dispatch → sign, reply → check →
// callback → closed. Also the agent screen's caller history.
import { apiAs, closeContext, expect, expectSuccess, loginAs, shot, test } from './fixtures'
import { callbackCloses, dispatcherChecks, dispatcherDispatches, handlerSignsAndReplies } from './steps'

test('an agent-accepted call goes all the way to closed', async ({ browser }) => {
  // A caller who has called before (from the demo data).
  const api = await apiAs(browser, 'agent')
  const recent = await (await api.request.get('/api/orders?status=handling&limit=1')).json()
  const earlier = await (await api.request.get(`/api/orders/${recent.items[0].id}`)).json()
  const phone: string = earlier.citizen.phone
  await api.close()

  const { context, page } = await loginAs(browser, 'agent')
  await expect(page).toHaveURL(/\/accept$/)
  const form = page.getByTestId('accept-form')
  await expect(form).toHaveAttribute('data-ready', 'true')
  await form.locator('input[name=phone]').fill(phone)
  // The caller's history appears as soon as the number is complete.
  await expect(page.getByTestId('caller-history')).toContainText(earlier.number)
  await form.locator('input[name=name]').fill('王先生')
  await form.locator('label', { hasText: '投诉' }).click()
  // Category and region pickers: type to search, pick a match.
  await form.locator('[data-field=category] input').click()
  await form.locator('[data-field=category] input').fill('物业')
  await page.locator('.el-cascader__dropdown:visible .el-cascader__suggestion-item', { hasText: '物业' }).first().click()
  await expect(form.locator('[data-field=category] input')).toHaveValue(/物业/)
  await expect(page.locator('.el-cascader__dropdown:visible')).toHaveCount(0)
  await form.locator('[data-field=region_code] input').click()
  await form.locator('[data-field=region_code] input').fill('北路街道')
  await page.locator('.el-cascader__dropdown:visible .el-cascader__suggestion-item', { hasText: '北路街道' }).first().click()
  await expect(form.locator('[data-field=region_code] input')).toHaveValue(/北路街道/)
  await expect(page.locator('.el-cascader__dropdown:visible')).toHaveCount(0)
  await form.locator('input[name=address]').fill('丽景小区 5 栋')
  await form.locator('textarea[name=content]').fill('小区 5 栋电梯连续三天故障停运，物业一直没有维修，老人上下楼困难。')
  await expect(page.getByTestId('knowledge-panel')).toBeVisible()
  await shot(page, 'agent-accept.png')
  await page.getByTestId('accept-submit').click()
  await expectSuccess(page, '已受理')
  const number = (await page.getByTestId('created-number').textContent())!.trim()
  expect(number).toMatch(/^\d{4}-\d{2}-\d{2}-\d+$/)

  // The same caller again: the history now shows the order just saved, still open.
  await form.locator('input[name=phone]').fill(phone)
  await expect(page.getByTestId('caller-history')).toContainText(number)
  await expect(page.getByTestId('caller-history')).toContainText('仍在办理')
  await closeContext(context)

  const reply = '已联系物业公司更换电梯主板，电梯已恢复运行，并督促其建立维保台账。'
  await dispatcherDispatches(browser, number)
  await handlerSignsAndReplies(browser, number, reply)
  await dispatcherChecks(browser, number, reply)
  await callbackCloses(browser, number)
})

// The instant answer (即答办结) from the knowledge panel: knowledge.spec.ts.
