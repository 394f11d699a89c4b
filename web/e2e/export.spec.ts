// Tables: filter, page with the cursor, and export the same selection to Excel with progress.
import { closeContext, expect, loginAs, test } from './fixtures'

test('order search pages through results and exports them to Excel', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'dispatcher')
  await page.goto('/orders?status=closed')
  const table = page.getByTestId('orders-table')
  await expect(table.locator('.el-table__body tr').first()).toBeVisible()
  const total = Number(await table.getByTestId('total').textContent())
  expect(total).toBeGreaterThan(20)
  await expect(table).toContainText('第 1 /')

  // Next page with the cursor, and back.
  const firstNumber = await table.locator('.el-table__body tr').first().locator('a').textContent()
  await table.getByRole('button', { name: '下一页' }).click()
  await expect(table).toContainText('第 2 /')
  await expect(table.locator('.el-table__body tr').first().locator('a')).not.toHaveText(firstNumber!)
  await table.getByRole('button', { name: '上一页' }).click()
  await expect(table.locator('.el-table__body tr').first().locator('a')).toHaveText(firstNumber!)

  // Export the filtered orders: a streamed download with a progress read-out.
  const download = page.waitForEvent('download')
  await page.getByTestId('export').click()
  await expect(page.getByTestId('export-progress')).toBeVisible()
  const file = await download
  expect(file.suggestedFilename()).toMatch(/\.xlsx$/)
  await expect(page.locator('.el-message--success').filter({ hasText: '已导出' })).toBeVisible()
  await expect(page.getByTestId('export-progress')).toContainText('100%')
  await closeContext(context)
})
