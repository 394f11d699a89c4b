// The steps of one order's life, each done by the role that does it, in its own browser context.
import type { Browser, Page } from '@playwright/test'
import { closeContext, expect, expectSuccess, loginAs, pickUnit, shot } from './fixtures'

const HOUSING = '市住房和城乡建设局'

async function rowOf(page: Page, number: string) {
  const row = page.locator('.el-table__body tr', { hasText: number })
  await expect(row).toHaveCount(1)
  return row
}

async function filterQueue(page: Page, number: string) {
  await page.locator('input[name=number]').fill(number)
  await expect(page.locator('.el-table__body tr', { hasText: number })).toHaveCount(1)
}

/** 派单员: finds the order in the review queue and dispatches it directly to 住建局. */
export async function dispatcherDispatches(browser: Browser, number: string, screenshot = false) {
  const { context, page } = await loginAs(browser, 'dispatcher')
  await page.goto('/review?tab=review')
  await expect(page.getByTestId('dispatcher-queue')).toBeVisible()
  await filterQueue(page, number)
  if (screenshot) {
    await page.locator('input[name=number]').fill('')
    await expect(page.locator('.el-table__body tr').first()).toBeVisible()
    await page.waitForTimeout(300)
    await shot(page, 'dispatcher-queue.png')
    await filterQueue(page, number)
  }
  const row = await rowOf(page, number)
  await row.locator('[data-action=dispatch]').click()
  const dialog = page.locator('.el-dialog', { has: page.getByTestId('action-form') })
  await expect(dialog).toBeVisible()
  await pickUnit(page, 'dispatch-lead', '住房', HOUSING)
  await dialog.locator('textarea[name=note]').fill('请核实处理并按时反馈')
  if (screenshot) {
    await page.waitForTimeout(400)
    await shot(page, 'dispatch-dialog.png')
  }
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '派单成功')
  await expect(page.locator('.el-table__body tr', { hasText: number })).toHaveCount(0)
  await closeContext(context)
}

/** 承办人 (住建局): signs for the order in the unit inbox, then replies from the order page. */
export async function handlerSignsAndReplies(browser: Browser, number: string, reply: string, screenshot = false) {
  const { context, page } = await loginAs(browser, 'handler')
  await page.goto('/inbox?tab=pending_sign')
  await expect(page.getByTestId('unit-inbox')).toBeVisible()
  await filterQueue(page, number)
  if (screenshot) {
    await page.locator('input[name=number]').fill('')
    await expect(page.locator('.el-table__body tr').first()).toBeVisible()
    await page.waitForTimeout(300)
    await shot(page, 'unit-inbox.png')
    await filterQueue(page, number)
  }
  const row = await rowOf(page, number)
  await row.locator('[data-action=sign]').click()
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '签收成功')

  await page.goto('/inbox?tab=handling')
  await filterQueue(page, number)
  await (await rowOf(page, number)).getByRole('link', { name: number }).click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await page.locator('[data-testid=order-actions] [data-action=reply]').click()
  const form = page.getByTestId('action-form')
  await form.locator('textarea[name=content]').fill(reply)
  // Attach a small text file where the attachment API is there.
  const upload = form.getByTestId('attachment-input')
  if (await upload.count()) {
    await upload.setInputFiles({ name: '现场核查记录.txt', mimeType: 'text/plain', buffer: Buffer.from('现场核查记录：已整改。') })
    await expect(form.getByText('现场核查记录.txt')).toBeVisible()
  }
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '办理反馈成功')
  await expect(page.getByTestId('order-reply')).toContainText(reply)
  await closeContext(context)
}

/** 派单员: checks the reply (核验通过). */
export async function dispatcherChecks(browser: Browser, number: string, reply: string) {
  const { context, page } = await loginAs(browser, 'dispatcher')
  await page.goto('/review?tab=check')
  await filterQueue(page, number)
  await (await rowOf(page, number)).locator('[data-action=check]').click()
  await expect(page.getByTestId('check-reply')).toContainText(reply)
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '核验成功')
  await closeContext(context)
}

/** 回访员: calls back — satisfied and resolved closes the order. */
export async function callbackCloses(browser: Browser, number: string, screenshot = false) {
  const { context, page } = await loginAs(browser, 'callback')
  await page.goto('/callback?tab=pending')
  await filterQueue(page, number)
  await (await rowOf(page, number)).locator('[data-action=callback]').click()
  const form = page.getByTestId('action-form')
  await form.getByText('满意', { exact: true }).click()
  await form.getByText('已解决', { exact: true }).click()
  await form.locator('textarea[name=comment]').fill('市民表示问题已解决，满意')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '回访成功')

  await page.goto(`/orders?number=${encodeURIComponent(number)}`)
  await page.getByTestId('orders-table').getByRole('link', { name: number }).click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await expect(page.getByTestId('order-status')).toHaveText('已办结')
  const timeline = page.getByTestId('timeline')
  for (const step of ['受理', '派单', '签收', '反馈', '核验通过', '回访']) {
    await expect(timeline.getByText(step, { exact: true }).first()).toBeVisible()
  }
  if (screenshot) {
    await page.waitForTimeout(300)
    await shot(page, 'order-detail.png')
  }
  await closeContext(context)
}
