// Repeat and duplicate orders: a caller who calls again about the same issue gets an order that
// links the earlier one (重复诉求, 同一来电人); another caller reporting the same issue at the same
// place gets an order the dispatcher can merge into the earlier one (疑似重复 → 合并).
import { apiAs, closeContext, expect, expectSuccess, loginAs, test } from './fixtures'

test('an order shows the earlier order it repeats, and a duplicate is merged', async ({ browser }) => {
  const agent = await apiAs(browser, 'agent')
  const tail = String(Date.now()).slice(-4)
  const content = `丽景花园 ${tail} 号楼北侧的下水道堵塞外溢，污水流到小区道路上，气味很大，请尽快疏通。`
  const address = `A1区丽景花园 ${tail} 号楼`
  const create = async (phone: string, name: string) => {
    const r = await agent.request.post('/api/orders', {
      data: { channel: 'phone', request_type: 'complaint', content, address, citizen: { name, phone } },
    })
    expect(r.status(), await r.text()).toBe(201)
    return r.json()
  }
  const first = await create(`1390000${tail}`, '陈先生')
  const again = await create(`1390000${tail}`, '陈先生')
  const other = await create(`1380000${tail}`, '周女士')
  await agent.close()
  expect(again.flags.repeat).toBe(true)
  expect(again.repeat_of.map((r: { id: number }) => r.id)).toContain(first.id)

  const { context, page } = await loginAs(browser, 'dispatcher')
  // The repeat: a link to the earlier order, with why.
  await page.goto(`/orders/${again.id}`)
  const repeats = page.getByTestId('repeat-of')
  await expect(repeats).toBeVisible()
  const ref = repeats.getByTestId('repeat-ref').filter({ hasText: first.number })
  await expect(ref).toContainText('同一来电人')
  await expect(ref).toContainText('相似度')
  await ref.getByRole('link', { name: first.number }).click()
  await expect(page.getByTestId('order-number')).toHaveText(first.number)

  // The same issue from another caller: merged into an earlier open order.
  await page.goto(`/orders/${other.id}`)
  const dups = page.getByTestId('duplicates')
  await expect(dups).toBeVisible()
  const target = dups.getByTestId('duplicate').filter({ hasText: first.number })
  await expect(target).toBeVisible()
  await target.getByTestId('duplicate-merge').click()
  const dialog = page.locator('.el-dialog', { has: page.getByTestId('merge-form') })
  await dialog.getByRole('button', { name: '确定合并' }).click()
  await expect(dialog.getByText('请填写合并原因')).toBeVisible()
  await dialog.locator('textarea[name=reason]').fill('同一地点同一问题，由先受理的工单统一办理')
  await dialog.getByRole('button', { name: '确定合并' }).click()
  await expectSuccess(page, `已合并到工单 ${first.number}`)
  await expect(page.getByTestId('order-status')).toHaveText('已合并')
  await closeContext(context)
})
