// 考核评价: a leader reads last month's evaluation of the departments and the towns (the API's
// figures, live until closed); an admin closes the month — the scores freeze — and corrects one
// unit's score by an adjustment with its reason, which the list and the final score show; the
// year's ranking is the mean of its closed months.
import { apiGet } from './api-steps'
import { closeContext, expect, expectSuccess, loginAs, quietMessages, shot, test } from './fixtures'

interface EvalLine {
  unit_id: number
  unit_name: string
  rank: number | null
  evaluation: number | null
  adjustment: number
  adjusted: number | null
}
interface Evaluation {
  month: string
  closed: boolean
  items: EvalLine[]
  adjustments: { unit_id: number; points: number; reason: string; by: string }[]
}

const pad = (n: number) => String(n).padStart(2, '0')
/** Last month in China, `YYYY-MM`. */
function lastMonth(): string {
  const now = new Date(Date.now() + 8 * 3600_000)
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`
}
const score = (v: number | null) => (v === null ? '—' : v.toFixed(2))

test('a leader reads last month\'s evaluation of departments and towns', async ({ browser }) => {
  const month = lastMonth()
  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '考核评价' }).click()
  const root = page.getByTestId('evaluation')
  await expect(root).toHaveAttribute('data-loaded', `${month}/department`)
  const api = await apiGet<Evaluation>(browser, 'leader', `/api/evaluations/${month}?kind=department`)
  expect(api.items.length).toBeGreaterThan(3)

  const table = page.getByTestId('eval-table')
  await expect(table.getByTestId('eval-unit')).toHaveText(api.items.map((l) => l.unit_name))
  await expect(table.getByTestId('eval-rank').first()).toHaveText(String(api.items[0].rank ?? '—'))
  await expect(table.getByTestId('eval-score').first()).toHaveText(score(api.items[0].evaluation))
  await expect(table.getByTestId('eval-adjusted').first()).toHaveText(score(api.items[0].adjusted))
  await expect(page.getByTestId('eval-state')).toHaveAttribute('data-closed', String(api.closed))
  // Only admins close a month.
  await expect(page.getByTestId('eval-close')).toHaveCount(0)

  // The towns are their own peer group.
  await page.getByTestId('eval-kinds').getByRole('tab', { name: '乡镇街道' }).click()
  await expect(root).toHaveAttribute('data-loaded', `${month}/town`)
  await expect(page).toHaveURL(/kind=town/)
  await expect(table.getByTestId('eval-unit').first()).toContainText(/街道|镇|乡/)
  await closeContext(context)
})

test('an admin closes the month, the scores freeze, and an adjustment corrects one', async ({ browser }) => {
  const month = lastMonth()
  const { context, page } = await loginAs(browser, 'admin')
  await page.getByRole('menuitem', { name: '考核评价' }).click()
  const root = page.getByTestId('evaluation')
  await expect(root).toHaveAttribute('data-loaded', `${month}/department`)
  const state = page.getByTestId('eval-state')

  // Close it (unless a run before already did): confirmed, then frozen.
  if ((await state.getAttribute('data-closed')) === 'false') {
    await expect(state).toContainText('实时数据（未关账）')
    await expect(page.getByTestId('adjustments-panel')).toHaveCount(0)
    await page.getByTestId('eval-close').click()
    await page.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
    await expectSuccess(page, '已关账')
  }
  await expect(state).toHaveAttribute('data-closed', 'true')
  await expect(page.getByTestId('eval-frozen')).toHaveText('已关账，得分已冻结')
  await expect(state).toContainText('由 系统管理员 关账')
  await expect(page.getByTestId('eval-close')).toHaveCount(0)
  const frozen = await apiGet<Evaluation>(browser, 'leader', `/api/evaluations/${month}?kind=department`)
  expect(frozen.closed).toBe(true)

  // An adjustment needs a unit, points and a reason.
  const panel = page.getByTestId('adjustments-panel')
  await expect(panel).toBeVisible()
  await page.getByTestId('adjust-submit').click()
  const form = page.getByTestId('adjust-form')
  await expect(form).toContainText('请选择单位')
  await expect(form).toContainText('请填写调整原因')

  // Five points off the first department, with the reason.
  const target = frozen.items.find((l) => l.evaluation !== null)!
  const reason = `核实群众投诉属实，扣 5 分（${Date.now()}）`
  await page.getByTestId('adjust-unit').click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: target.unit_name }).first().click()
  await form.locator('input[name=points]').fill('-5')
  await form.locator('input[name=points]').press('Tab')
  await form.locator('input[name=reason]').fill(reason)
  await page.getByTestId('adjust-submit').click()
  await expectSuccess(page, '已记录调整')

  const after = await apiGet<Evaluation>(browser, 'leader', `/api/evaluations/${month}?kind=department`)
  const line = after.items.find((l) => l.unit_id === target.unit_id)!
  expect(line.adjustment).toBeCloseTo(target.adjustment - 5)
  expect(line.evaluation).toBe(target.evaluation)
  const adjustments = page.getByTestId('adjustments')
  const mine = adjustments.locator('.el-table__row', { hasText: reason })
  await expect(mine).toHaveCount(1)
  await expect(mine.getByTestId('adjustment-unit')).toHaveText(target.unit_name)
  await expect(mine.getByTestId('adjustment-points')).toHaveText('-5')
  await expect(mine).toContainText('系统管理员')
  const row = page.getByTestId('eval-table').locator('.el-table__row', { has: page.getByTestId('eval-unit').getByText(target.unit_name, { exact: true }) })
  await expect(row.getByTestId('eval-score')).toHaveText(score(target.evaluation))
  await expect(row.getByTestId('eval-adjustment')).toHaveText(String(Math.round(line.adjustment * 100) / 100))
  await expect(row.getByTestId('eval-adjusted')).toHaveText(score(line.adjusted))
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'evaluation.png')

  // The year: the mean of its closed months, this one among them.
  await page.getByTestId('eval-view').getByText('年度考核').click()
  const year = Number(month.slice(0, 4))
  await expect(root).toHaveAttribute('data-loaded', `${year}/department`)
  const y = await apiGet<{ months: string[]; items: { unit_name: string; mean: number }[] }>(browser, 'leader', `/api/evaluations/year/${year}?kind=department`)
  expect(y.months).toContain(month)
  await expect(page.getByTestId('year-months')).toContainText(`${Number(month.slice(5))}月`)
  await expect(page.getByTestId('year-unit')).toHaveText(y.items.map((l) => l.unit_name))
  await expect(page.getByTestId('year-mean').first()).toHaveText(y.items[0].mean.toFixed(2))
  await page.waitForTimeout(200)
  await shot(page, 'evaluation-year.png')
  await closeContext(context)
})
