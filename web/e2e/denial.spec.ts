// A handling unit opening another unit's order by URL sees the no-access page, not the order.
import { apiAs, closeContext, expect, loginAs, test } from './fixtures'

test('handler gets the no-access page for an order not dispatched to the unit', async ({ browser }) => {
  const api = await apiAs(browser, 'dispatcher')
  // Orders still pending review are not dispatched to any unit.
  const list = await (await api.request.get('/api/orders?status=pending_review&limit=1')).json()
  expect(list.items.length).toBeGreaterThan(0)
  const other = list.items[0]
  // And one dispatched to another department.
  const elsewhere = await (await api.request.get('/api/orders?unit=3&limit=1')).json()
  await api.close()

  const { context, page } = await loginAs(browser, 'handler')
  for (const o of [other, ...elsewhere.items]) {
    await page.goto(`/orders/${o.id}`)
    await expect(page.getByTestId('no-access')).toBeVisible()
    await expect(page.getByText('无权查看或工单不存在')).toBeVisible()
    await expect(page.getByText(o.number)).toHaveCount(0)
  }
  // A page the role may not use is refused as well.
  await page.goto('/review')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
