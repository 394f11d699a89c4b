// 预警: the day's warnings (or none) and the seasonal trend: this year's months against the same
// months last year, for all orders and for a warning's category × region.
import { closeContext, expect, expectSuccess, loginAs, test } from './fixtures'

test('the warning page shows the day and the seasonal trend', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'supervisor')
  await page.getByRole('menuitem', { name: '预警' }).click()
  await expect(page.getByTestId('warnings')).toBeVisible()
  const table = page.getByTestId('warning-table')
  const empty = page.getByTestId('warnings-empty')
  await expect(table.or(empty)).toBeVisible()
  await expect(page.getByTestId('warning-counts')).toBeVisible()

  // The trend of everything first.
  const chart = page.getByTestId('trend-chart')
  await expect(chart).toHaveAttribute('data-rendered', 'true')
  await expect(page.getByTestId('trend-title')).toHaveText('全部分类 × 全部区划')

  if (await table.isVisible()) {
    // A warning: its level, and its trend on click.
    const first = table.locator('.el-table__body tr').first()
    await expect(first.getByTestId('warning-level')).toHaveText(/红色预警|黄色预警/)
    const category = (await first.getByTestId('warning').textContent())!.trim()
    await first.click()
    await expect(page.getByTestId('trend-title')).toContainText(category)
    await expect(chart).toHaveAttribute('data-rendered', 'true')
  }

  // Another day (a week ago, China time) loads too.
  const day = new Date(Date.now() + 8 * 3600_000 - 7 * 86_400_000).toISOString().slice(0, 10)
  const input = page.locator('input[name=warning-date]')
  await input.click()
  await input.fill(day)
  await input.press('Enter')
  await expect(page).toHaveURL(new RegExp(`date=${day}`))
  await expect(table.or(empty)).toBeVisible()
  await closeContext(context)
})

test('an admin changes the insight settings', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'admin')
  await page.getByRole('menuitem', { name: '研判设置' }).click()
  const form = page.getByTestId('insight-settings')
  const count = form.locator('input[name=warning_min_count]')
  await expect(count).not.toHaveValue('')
  const before = await count.inputValue()
  await count.fill('6')
  await count.press('Tab')
  await page.getByTestId('insight-settings-save').click()
  await expectSuccess(page, '已保存研判设置')
  await page.reload()
  await expect(count).toHaveValue('6')
  await count.fill(before)
  await count.press('Tab')
  await page.getByTestId('insight-settings-save').click()
  await expectSuccess(page, '已保存研判设置')
  await closeContext(context)
})
