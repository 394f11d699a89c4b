// Returned orders and extensions: the unit returns an order with a reason, the dispatcher sees
// the reason and re-dispatches it to a lead and a co-handler, the unit asks for an extension and
// the dispatcher approves it.
import { apiAs, closeContext, expect, expectSuccess, loginAs, pickUnit, test } from './fixtures'

test('return with a reason, re-dispatch to several units, extension request and approval', async ({ browser }) => {
  // Set-up through the API: an agent accepts, the dispatcher dispatches to 住建局.
  const agent = await apiAs(browser, 'agent')
  const created = await (
    await agent.request.post('/api/orders', {
      data: { channel: 'phone', request_type: 'complaint', content: '小区门口井盖松动，车辆经过响声很大，夜间扰民。', citizen: { name: '周先生', phone: '13512345678' } },
    })
  ).json()
  await agent.close()
  const dispatcherApi = await apiAs(browser, 'dispatcher')
  const d = await dispatcherApi.request.post(`/api/orders/${created.id}/dispatch`, { data: { targets: [{ unit_id: 2, role: 'lead' }] } })
  expect(d.ok()).toBeTruthy()
  await dispatcherApi.close()
  const number: string = created.number

  // 住建局 returns it: not its responsibility.
  let { context, page } = await loginAs(browser, 'handler')
  await page.goto('/inbox?tab=pending_sign')
  await page.locator('input[name=number]').fill(number)
  await page.locator('.el-table__body tr', { hasText: number }).locator('[data-action=return]').click()
  // The reason is required.
  await page.getByTestId('action-submit').click()
  await expect(page.getByTestId('action-form').getByText('请填写原因')).toBeVisible()
  await page.getByTestId('action-form').locator('textarea[name=reason]').fill('井盖属市政设施，应由城管局负责')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '退单成功')
  await closeContext(context)

  // The dispatcher sees the reason and re-dispatches: 城管局 leads, 北路街道 co-handles.
  ;({ context, page } = await loginAs(browser, 'dispatcher'))
  await page.goto('/review?tab=returned')
  await page.locator('input[name=number]').fill(number)
  const row = page.locator('.el-table__body tr', { hasText: number })
  await expect(row).toContainText('井盖属市政设施，应由城管局负责')
  await row.locator('[data-action=dispatch]').click()
  const form = page.getByTestId('action-form')
  await expect(form).toContainText('市住房和城乡建设局 退单：井盖属市政设施')
  await form.getByText('一单多派').click()
  await pickUnit(page, 'dispatch-lead', '城市管理', '市城市管理和综合执法局')
  await pickUnit(page, 'dispatch-co', '北路', 'A1区北路街道')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '派单成功')
  await page.goto(`/orders?number=${number}`)
  await page.getByTestId('orders-table').getByRole('link', { name: number }).click()
  const assignments = page.getByTestId('assignments')
  await expect(assignments).toContainText('市城市管理和综合执法局')
  await expect(assignments).toContainText('A1区北路街道')
  await expect(assignments).toContainText('协办')
  await expect(page.getByTestId('timeline')).toContainText('退单')
  await closeContext(context)

  // Re-dispatch the order to 住建局 again (API) so the demo handler can ask for an extension.
  const dApi = await apiAs(browser, 'dispatcher')
  const h = await apiAs(browser, 'handler')
  const o2 = await (await agentOrder(browser)).json()
  expect((await dApi.request.post(`/api/orders/${o2.id}/dispatch`, { data: { targets: [{ unit_id: 2, role: 'lead' }] } })).ok()).toBeTruthy()
  expect((await h.request.post(`/api/orders/${o2.id}/sign`, { data: {} })).ok()).toBeTruthy()
  await dApi.close()
  await h.close()

  // The handler asks for 3 more working days.
  ;({ context, page } = await loginAs(browser, 'handler'))
  await page.goto(`/orders/${o2.id}`)
  await page.locator('[data-testid=order-actions] [data-action=extension]').click()
  await page.getByTestId('action-form').locator('textarea[name=reason]').fill('需协调供水公司停水检修，预计下周完成')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '申请延期成功')
  await expect(page.getByText('待审批')).toBeVisible()
  await expect(page.locator('[data-testid=order-actions] [data-action=extension]')).toHaveCount(0)
  await closeContext(context)

  // The dispatcher approves it from the extension queue.
  ;({ context, page } = await loginAs(browser, 'dispatcher'))
  await page.goto('/review?tab=extension')
  const ext = page.locator('.el-table__body tr', { hasText: o2.number })
  await expect(ext).toContainText('需协调供水公司停水检修')
  await ext.locator('[data-action=extension_review]').click()
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '延期审批成功')
  await page.goto(`/orders/${o2.id}`)
  await expect(page.getByText('已同意')).toBeVisible()
  await expect(page.getByTestId('deadlines')).toContainText('延期 3 个工作日')
  await closeContext(context)
})

async function agentOrder(browser: import('@playwright/test').Browser) {
  const agent = await apiAs(browser, 'agent')
  const r = await agent.request.post('/api/orders', {
    data: { channel: 'phone', request_type: 'help', content: '楼道水管漏水，已经持续两天，请尽快维修。', citizen: { phone: '13512340000' } },
  })
  const body = await r.body()
  await agent.close()
  return { json: async () => JSON.parse(body.toString()) }
}
