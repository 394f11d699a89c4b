// 督办: the board shows the API's sections with their counts; a supervisor issues a notice
// (督办单) from an order's page, it appears on the board, the unit answers it from its inbox, and
// the board's count goes down again; the order's page shows the supervision and prints the
// whole history on a sheet (打印工单).
import type { Page } from '@playwright/test'
import { acceptAndDispatch } from './api-steps'
import { closeContext, expect, expectSuccess, loginAs, quietMessages, shot, test } from './fixtures'

const SECTIONS = ['overdue', 'notices_pending', 'notices_overdue', 'returned_twice', 'rehandled', 'repeats', 'escalated'] as const
type Board = Record<(typeof SECTIONS)[number], { total: number; items: { id: number; number: string }[] }>

/** Opens the board from the menu and returns what the page read from the API. */
async function openBoard(page: Page): Promise<Board> {
  const read = page.waitForResponse((r) => r.url().endsWith('/api/supervision/board') && r.request().method() === 'GET')
  await page.getByRole('menuitem', { name: '督办看板' }).click()
  const board = (await (await read).json()) as Board
  await expect(page.getByTestId('supervision-board')).not.toHaveAttribute('data-loaded', '')
  return board
}

const count = (page: Page, key: string) => page.getByTestId(`board-count-${key}`)

test('the board shows each section of the API with its count and orders', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  const board = await openBoard(page)
  for (const key of SECTIONS) await expect(count(page, key)).toHaveText(board[key].total.toLocaleString('zh-CN'))
  // The late orders first; any section opens its orders, each linked to its page.
  await expect(page.getByTestId('board-section')).toHaveAttribute('data-section', 'overdue')
  await expect(page.getByTestId('board-orders').getByTestId('total')).toHaveText(String(board.overdue.total))
  const withOrders = SECTIONS.find((k) => board[k].items.length > 0 && k !== 'overdue')
  if (withOrders) {
    await page.getByTestId(`board-card-${withOrders}`).click()
    await expect(page).toHaveURL(new RegExp(`tab=${withOrders}`))
    const first = board[withOrders].items[0]
    const link = page.getByTestId('board-orders').getByRole('link', { name: first.number })
    await expect(link).toBeVisible()
    await link.click()
    await expect(page.getByTestId('order-number')).toHaveText(first.number)
  }
  // A leader reads the board but issues no notices.
  await expect(page.locator('[data-testid=order-actions] [data-action=supervise]')).toHaveCount(0)
  await closeContext(context)
})

test('a supervision notice goes to the unit, appears on the board, is answered and leaves it', async ({ browser }) => {
  const { id, number } = await acceptAndDispatch(browser, '小区地下车库长期积水，物业多次推诿，要求尽快排水并修复排水泵。')
  const content = '请于两日内上报车库积水整改进展及排水泵修复计划'
  const answer = '已约谈物业公司，排水泵已于今日修复，积水已排净，后续每周巡查。'

  // 督办员: the board before, then the notice from the order's page.
  let { context, page } = await loginAs(browser, 'supervisor')
  const before = await openBoard(page)
  await expect(count(page, 'notices_pending')).toHaveText(String(before.notices_pending.total))
  await page.goto(`/orders/${id}`)
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await expect(page.getByTestId('notices')).toHaveCount(0)
  await page.locator('[data-testid=order-actions] [data-action=supervise]').click()
  const form = page.getByTestId('action-form')
  await expect(form).toHaveAttribute('data-action', 'supervise')
  // The content is required; the lead unit is addressed by default.
  await page.getByTestId('action-submit').click()
  await expect(form.getByText('请填写督办内容')).toBeVisible()
  await expect(form.getByTestId('notice-unit')).toContainText('市住房和城乡建设局')
  await form.getByText('督办单', { exact: true }).click()
  await form.getByText('重点督办', { exact: true }).click()
  await form.locator('textarea[name=content]').fill(content)
  await form.getByText('2 天', { exact: true }).click()
  await expect(form.locator('input[name=respond_within_hours]')).toHaveValue('48')
  await page.waitForTimeout(300)
  await shot(page, 'supervise-dialog.png')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '已发出督办单')

  // The order shows it: the level, the notice waiting for its answer, the step in the history.
  await expect(page.getByTestId('supervision-level')).toHaveText('重点督办')
  const notice = page.getByTestId('notice')
  await expect(notice).toHaveCount(1)
  await expect(notice).toContainText('第 1 号督办单')
  await expect(notice).toContainText('致 市住房和城乡建设局')
  await expect(notice.getByTestId('notice-state')).toHaveText('待回复')
  await expect(notice.getByTestId('notice-content')).toHaveText(content)
  await expect(page.getByTestId('timeline').getByText('发出督办单', { exact: true })).toBeVisible()

  // On the board: one more awaiting its answer, this order among them.
  await openBoard(page)
  await expect(count(page, 'notices_pending')).toHaveText(String(before.notices_pending.total + 1))
  await page.getByTestId('board-card-notices_pending').click()
  await expect(page.getByTestId('board-orders').getByRole('link', { name: number })).toBeVisible()
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'supervision-board.png')
  await closeContext(context)

  // 住建局: the order is in the inbox's tab of notices awaiting an answer; it answers.
  ;({ context, page } = await loginAs(browser, 'handler'))
  await page.goto('/inbox?tab=notices')
  await page.locator('input[name=number]').fill(number)
  const row = page.locator('.el-table__body tr', { hasText: number })
  await expect(row).toHaveCount(1)
  await row.getByRole('link', { name: number }).click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await page.getByTestId('notice-answer').click()
  const reply = page.getByTestId('action-form')
  await expect(reply).toHaveAttribute('data-action', 'notice_response')
  await expect(reply.getByTestId('answering-notice')).toContainText(content)
  await page.getByTestId('action-submit').click()
  await expect(reply.getByText('请填写回复内容')).toBeVisible()
  await reply.locator('textarea[name=content]').fill(answer)
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, '已回复督办')
  const answered = page.getByTestId('notice')
  await expect(answered.getByTestId('notice-state')).toHaveText('已回复')
  await expect(answered.getByTestId('notice-response')).toHaveText(answer)
  await expect(page.getByTestId('notice-answer')).toHaveCount(0)
  await expect(page.getByTestId('timeline').getByText('督办回复', { exact: true })).toBeVisible()
  await page.goto('/inbox?tab=notices')
  await page.locator('input[name=number]').fill(number)
  await expect(page.locator('.el-table__body tr', { hasText: number })).toHaveCount(0)
  await closeContext(context)

  // 督办员: the board's count is back down; the order's page has the answer and prints.
  ;({ context, page } = await loginAs(browser, 'supervisor'))
  const after = await openBoard(page)
  expect(after.notices_pending.items.some((o) => o.id === id)).toBe(false)
  await expect(count(page, 'notices_pending')).toHaveText(String(before.notices_pending.total))
  await page.getByTestId('board-card-notices_pending').click()
  await expect(page.getByTestId('board-orders').getByRole('link', { name: number })).toHaveCount(0)

  await page.goto(`/orders/${id}`)
  await expect(page.getByTestId('notice-response')).toHaveText(answer)
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'order-supervision.png')
  const print = page.getByTestId('print-sheet')
  await expect(print).toHaveText('打印工单')
  await expect(print).toHaveAttribute('href', `/api/orders/${id}/sheet`)
  await expect(print).toHaveAttribute('target', '_blank')
  const [sheet] = await Promise.all([page.waitForEvent('popup'), print.click()])
  await sheet.waitForLoadState()
  await expect(sheet.locator('body')).toContainText(number)
  await expect(sheet.locator('body')).toContainText('发出督办单')
  await expect(sheet.locator('body')).toContainText('督办回复')
  await expect(sheet.locator('body')).toContainText(answer)
  await sheet.close()
  await closeContext(context)
})
