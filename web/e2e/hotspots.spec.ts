// 热点: the hot spots of the demo data, ranked; a hot spot's drawer lists its orders, which open.
import { closeContext, expect, loginAs, shot, test } from './fixtures'

test('the hot-spot page lists hot spots and opens their orders', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '热点' }).click()
  await expect(page.getByTestId('hotspots')).toBeVisible()
  // Right after a start the server may still be clustering: the page says so and asks again.
  await expect(page.getByTestId('hotspot-table')).toBeVisible({ timeout: 60_000 })
  const spots = page.getByTestId('hotspot')
  expect(await spots.count()).toBeGreaterThan(0)
  await page.waitForTimeout(300)
  await shot(page, 'hotspots.png')

  // Other rankings.
  await page.getByTestId('hotspot-rank').getByText('增长').click()
  await expect(page).toHaveURL(/rank=growth/)
  await expect(page.getByTestId('hotspot-table')).toBeVisible()
  await page.getByTestId('hotspot-rank').getByText('覆盖人数').click()
  await expect(page).toHaveURL(/rank=reach/)
  await expect(spots.first()).toBeVisible()

  // The drawer: the hot spot's orders, each a link to the order.
  const title = (await spots.first().textContent())!.trim()
  await spots.first().click()
  const detail = page.getByTestId('hotspot-detail')
  await expect(detail).toBeVisible()
  const links = detail.getByTestId('hotspot-order-link')
  await expect(links.first()).toBeVisible()
  expect(await links.count()).toBeGreaterThan(1)
  const number = (await links.first().textContent())!.trim()
  await links.first().click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  expect(title.length).toBeGreaterThan(0)
  await closeContext(context)
})

test('units and agents do not see insight', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'handler')
  await expect(page.getByRole('menuitem', { name: '热点' })).toHaveCount(0)
  await page.goto('/insight/hotspots')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
