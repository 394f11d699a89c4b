// 回访: calls that do not reach the citizen are recorded (未接通) with the count shown, and the
// third closes the order without callback as the API does; an order still unsatisfied after two
// rounds of re-handling closes and is marked 转督办, on the queue, the order and the board.
import type { Page } from '@playwright/test'
import { replyAndCheck, unsatisfiedCallback, waitingForCallback } from './api-steps'
import { closeContext, expect, expectSuccess, loginAs, quietMessages, shot, test } from './fixtures'

async function rowOf(page: Page, number: string) {
  await page.locator('input[name=number]').fill(number)
  const row = page.locator('.el-table__body tr', { hasText: number })
  await expect(row).toHaveCount(1)
  return row
}

test('three calls not reached close the order without callback', async ({ browser }) => {
  const { number } = await waitingForCallback(browser, '楼道声控灯损坏多日，夜间上下楼不安全，请尽快维修。')
  const { context, page } = await loginAs(browser, 'callback')
  await page.getByRole('menuitem', { name: '回访' }).click()
  await expect(page.getByTestId('callback-queue')).toBeVisible()
  let row = await rowOf(page, number)
  // Read from the full order: no attempt yet.
  await expect(row.getByTestId('callback-marks')).toBeAttached()
  await expect(row.getByTestId('callback-attempts')).toHaveCount(0)

  const form = page.getByTestId('action-form')
  for (const n of [1, 2]) {
    await row.locator('[data-action=callback_attempt]').click()
    await expect(form).toHaveAttribute('data-action', 'callback_attempt')
    await expect(form.getByTestId('attempts-before')).toHaveText(String(n - 1))
    await expect(form.getByTestId('attempt-closes')).toHaveCount(0)
    await form.locator('input[name=note]').fill(n === 1 ? '无人接听' : '占线')
    await page.getByTestId('action-submit').click()
    await expectSuccess(page, `已记录第 ${n} 次未接通`)
    row = page.locator('.el-table__body tr', { hasText: number })
    await expect(row.getByTestId('callback-attempts')).toHaveText(`未接通 ${n}/3`)
  }
  await page.locator('.el-table__body-wrapper .el-scrollbar__wrap').first().evaluate((e) => (e.scrollLeft = 0))
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'callback-attempts.png')

  // The third: the dialog says what it will do; the order leaves the queue, closed.
  await row.locator('[data-action=callback_attempt]').click()
  await expect(form.getByTestId('attempts-before')).toHaveText('2')
  await expect(form.getByTestId('attempt-closes')).toContainText('免回访办结')
  await form.locator('input[name=note]').fill('关机')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '连续 3 次未接通，工单已免回访办结')
  await expect(page.locator('.el-table__body tr', { hasText: number })).toHaveCount(0)

  // Among the closed ones, closed without callback; its page has the three attempts.
  await page.getByTestId('tab-closed').click()
  row = await rowOf(page, number)
  await expect(row.getByTestId('callback-marks')).toContainText('免回访办结')
  await row.getByRole('link', { name: number }).click()
  await expect(page.getByTestId('order-status')).toHaveText('已办结')
  await expect(page.locator('.tags')).toContainText('免回访办结')
  const timeline = page.getByTestId('timeline')
  await expect(timeline.getByText('回访未接通', { exact: true })).toHaveCount(3)
  await expect(timeline).toContainText('第 3 次未接通')
  await expect(timeline).toContainText('连续 3 次回访未接通')
  await expect(page.locator('[data-testid=order-actions] [data-action=callback_attempt]')).toHaveCount(0)
  await closeContext(context)
})

test('an order unsatisfied after two rounds of re-handling closes and is marked 转督办', async ({ browser }) => {
  const { id, number } = await waitingForCallback(browser, '小区垃圾清运不及时，垃圾桶满溢，异味严重。')
  for (let round = 1; round <= 2; round++) {
    const o = await unsatisfiedCallback(browser, id)
    expect([o.status.code, o.rehandle_count]).toEqual(['handling', round])
    await replyAndCheck(browser, id, `第 ${round} 次重办：已协调环卫加密清运。`)
  }

  const { context, page } = await loginAs(browser, 'callback')
  await page.goto(`/orders/${id}`)
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await page.locator('[data-testid=order-actions] [data-action=callback]').click()
  const form = page.getByTestId('action-form')
  await form.getByText('不满意', { exact: true }).click()
  await form.getByText('未解决', { exact: true }).click()
  await expect(form.getByTestId('escalate-warning')).toContainText('转督办')
  await form.locator('textarea[name=comment]').fill('两次重办后垃圾仍未及时清运')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '工单已办结并转督办')
  await expect(page.getByTestId('order-status')).toHaveText('已办结')
  await expect(page.getByTestId('escalated-mark')).toHaveText('转督办')
  await expect(page.getByTestId('timeline')).toContainText('回访不满意，转督办')

  // The queue of closed orders marks it too.
  await page.goto('/callback?tab=closed')
  const row = await rowOf(page, number)
  await expect(row.getByTestId('escalated-mark')).toHaveText('转督办')
  await closeContext(context)

  // And the supervisor finds it on the board.
  const sup = await loginAs(browser, 'supervisor')
  await sup.page.goto('/supervise?tab=escalated')
  await expect(sup.page.getByTestId('board-section')).toHaveAttribute('data-section', 'escalated')
  await expect(sup.page.getByTestId('board-orders').getByRole('link', { name: number })).toBeVisible()
  await closeContext(sup.context)
})
