// Each role's home page shows what needs that person now.
import { closeContext, expect, loginAs, shot, test } from './fixtures'

test('home pages by role', async ({ browser }) => {
  // Handler: the unit's inbox counts, most urgent orders, a menu without centre pages.
  let { context, page } = await loginAs(browser, 'handler')
  await expect(page.getByTestId('home')).toBeVisible()
  for (const card of ['pending_sign', 'handling', 'unit_soon', 'unit_overdue']) {
    await expect(page.getByTestId(`card-${card}`).locator('.num')).toHaveText(/^(≥ )?\d+$/)
  }
  await expect(page.getByTestId('home-urgent')).toBeVisible()
  await expect(page.getByRole('menuitem', { name: '承办工作台' })).toBeVisible()
  await expect(page.getByRole('menuitem', { name: '审核派单' })).toHaveCount(0)
  await page.getByTestId('card-pending_sign').click()
  await expect(page).toHaveURL(/\/inbox\?tab=pending_sign/)
  await closeContext(context)

  // Leader: centre-wide counts and the status chart (ECharts, loaded on demand).
  ;({ context, page } = await loginAs(browser, 'leader'))
  await expect(page.getByTestId('card-overdue').locator('.num')).toHaveText(/^(≥ )?\d+$/)
  await expect(page.getByTestId('status-chart').locator('canvas')).toBeVisible()
  await page.waitForTimeout(500)
  await shot(page, 'home-leader.png')
  await closeContext(context)

  // Admin: the admin menu.
  ;({ context, page } = await loginAs(browser, 'admin'))
  for (const item of ['组织机构', '用户与角色', '诉求分类', '办理时限', '工作日历', '接口令牌', '码上说二维码']) {
    await expect(page.getByRole('menuitem', { name: item })).toBeVisible()
  }
  await page.getByRole('menuitem', { name: '码上说二维码' }).click()
  await expect(page.getByTestId('qr-image')).toHaveAttribute('src', /^data:image\/png;base64,/)
  await expect(page.getByTestId('qr-card')).toContainText('/portal')
  await closeContext(context)
})
