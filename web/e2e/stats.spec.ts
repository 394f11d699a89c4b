// 统计考核: the seven rates with the orders behind every count, the units ranked among their
// peers, the formulas changed from a preset (and the ranking says so), the monthly report as a
// workbook; a unit admin sees only their own unit's figures.
import { readFile } from 'node:fs/promises'
import type { Page } from '@playwright/test'
import { apiAs, closeContext, expect, expectSuccess, loginAs, shot, test } from './fixtures'

const RATES = ['响应率', '办结率', '按期办结率', '解决率', '满意率', '即答率', '回访率']
const RATE_TEXT = /^(\d{1,3}\.\d{2}%|—)$/

const pad = (n: number) => String(n).padStart(2, '0')
/** This month and last month in China: `[from, to]` days. */
function months(): { month: [string, string]; last: [string, string] } {
  const now = new Date(Date.now() + 8 * 3600_000)
  const y = now.getUTCFullYear()
  const m = now.getUTCMonth() + 1
  const day = (d: Date) => d.toISOString().slice(0, 10)
  return {
    month: [`${y}-${pad(m)}-01`, day(now)],
    last: [day(new Date(Date.UTC(y, m - 2, 1))), day(new Date(Date.UTC(y, m - 1, 0)))],
  }
}

/** Clicks a count on the rates page and checks the drawer lists as many orders; closes it. */
async function drillDown(page: Page, measure: string): Promise<number> {
  const count = page.getByTestId(`count-${measure}`).first()
  const figure = Number((await count.textContent())!.replace(/[,\s]/g, ''))
  await count.click()
  const drawer = page.getByTestId('stat-orders')
  await expect(drawer).toBeVisible()
  await expect(drawer.getByTestId('stat-orders-total')).toHaveText(figure.toLocaleString('zh-CN'))
  if (figure > 0) await expect(drawer.getByTestId('stat-order-link').first()).toBeVisible()
  expect(await drawer.getByTestId('stat-order-link').count()).toBe(Math.min(figure, 50))
  return figure
}

test('a leader reads the rates of this month and the orders behind a count', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '指标统计' }).click()
  const rates = page.getByTestId('stats-rates')
  await expect(rates).toBeVisible()

  // This month by default, for the whole centre: the seven rates, each with its formula.
  const { month, last } = months()
  await expect(rates).toHaveAttribute('data-loaded', `${month[0]}/${month[1]}/`)
  await expect(page.getByTestId('period-pick').locator('.is-active')).toHaveText('本月')
  await expect(page.getByTestId('stats-scope')).toHaveText('全市')
  const cards = page.getByTestId('rate-card')
  await expect(cards).toHaveCount(7)
  for (let i = 0; i < 7; i++) {
    const card = cards.nth(i)
    await expect(card).toContainText(RATES[i])
    await expect(card.getByTestId('rate-value')).toHaveText(RATE_TEXT)
    await expect(card.getByTestId('rate-formula')).toContainText(`${RATES[i]} = `)
  }
  // A rate without anything to count says why.
  for (const card of await cards.all()) {
    if ((await card.getByTestId('rate-value').textContent()) === '—') await expect(card.getByTestId('rate-empty')).toHaveText(/^暂无/)
  }
  // The orders accepted this month: as many in the drawer as the figure says.
  await drillDown(page, 'accepted')
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('stat-orders')).toBeHidden()

  // Last month, a whole month of orders: the figures of the screenshot.
  await page.getByTestId('period-pick').getByText('上月').click()
  await expect(page).toHaveURL(new RegExp(`from=${last[0]}&to=${last[1]}`))
  await expect(rates).toHaveAttribute('data-loaded', `${last[0]}/${last[1]}/`)
  await expect(page.getByTestId('stats-period')).toHaveText(`${last[0]} 至 ${last[1]}`)
  const satisfaction = cards.filter({ hasText: '满意率' })
  await expect(satisfaction.getByTestId('rate-value')).toHaveText(/^\d{1,3}\.\d{2}%$/)
  await expect(page.getByTestId('stats-formulas')).toContainText('综合得分 =')
  await page.waitForTimeout(300)
  await shot(page, 'stats-rates.png')

  // The dispatched orders of last month, and one of them opens.
  const dispatched = await drillDown(page, 'dispatched')
  expect(dispatched).toBeGreaterThan(0)
  const link = page.getByTestId('stat-orders').getByTestId('stat-order-link').first()
  const number = (await link.textContent())!.trim()
  await link.click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  await closeContext(context)
})

/** Types into a category or region picker of the rates page and picks the match ending in `name`. */
async function pickCut(page: Page, testid: string, search: string, name: string) {
  const input = page.getByTestId(testid).locator('input')
  await input.click()
  await input.fill(search)
  await page.locator('.el-cascader__dropdown:visible .el-cascader__suggestion-item', { hasText: new RegExp(`${name}$`) }).first().click()
  await expect(page.locator('.el-cascader__dropdown:visible')).toHaveCount(0)
}

test('the rates of a category in a district, and the orders behind them', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'supervisor')
  const { last } = months()
  await page.goto(`/stats/rates?from=${last[0]}&to=${last[1]}`)
  const rates = page.getByTestId('stats-rates')
  await expect(rates).toHaveAttribute('data-loaded', `${last[0]}/${last[1]}/`)
  await expect(rates).toHaveAttribute('data-cut', '|')
  const all = Number((await page.getByTestId('count-accepted').first().textContent())!.replace(/[,\s]/g, ''))

  // 城市建设和市政管理 (its subtree) in A1区 (the orders located within it).
  await pickCut(page, 'stats-category', '城市建设和市政管理', '城市建设和市政管理')
  await expect(page).toHaveURL(/category=[\d.]+/)
  await pickCut(page, 'stats-region', 'A1区', 'A1区')
  await expect(page).toHaveURL(/region=\d+/)
  const q = new URL(page.url()).searchParams
  const category = q.get('category')!
  const region = q.get('region')!
  await expect(rates).toHaveAttribute('data-cut', `${category}|${region}`)
  await expect(page.getByTestId('stats-cut')).toContainText('城市建设和市政管理')
  await expect(page.getByTestId('stats-cut')).toContainText('A1区')

  // The figures are the API's for that cut, fewer than the whole city's.
  const api = await apiAs(browser, 'supervisor')
  const r = await api.request.get(`/api/stats/rates?from=${last[0]}&to=${last[1]}&category=${category}&region=${region}`)
  expect(r.ok()).toBeTruthy()
  const cut = (await r.json()) as { counts: Record<string, number> }
  await api.close()
  expect(cut.counts.accepted).toBeGreaterThan(0)
  expect(cut.counts.accepted).toBeLessThan(all)
  await expect(page.getByTestId('count-accepted').first()).toHaveText(cut.counts.accepted.toLocaleString('zh-CN'))
  await expect(page.getByTestId('count-dispatched').first()).toHaveText(cut.counts.dispatched.toLocaleString('zh-CN'))
  await page.waitForTimeout(300)
  await shot(page, 'stats-rates-cut.png')

  // The drill-down asks for the same cut and lists as many orders.
  const read = page.waitForResponse((x) => x.url().includes('/api/stats/orders?'))
  const figure = await drillDown(page, 'accepted')
  expect(figure).toBe(cut.counts.accepted)
  const asked = new URL((await read).url()).searchParams
  expect([asked.get('category'), asked.get('region')]).toEqual([category, region])
  await expect(page.locator('.el-drawer__title')).toContainText('城市建设和市政管理')
  await page.keyboard.press('Escape')

  // Clearing the category leaves the district's figures.
  await page.getByTestId('stats-category').locator('.el-cascader').hover()
  await page.getByTestId('stats-category').locator('.el-input__suffix .el-icon').first().click()
  await expect(page).not.toHaveURL(/category=/)
  await expect(rates).toHaveAttribute('data-cut', `|${region}`)
  await closeContext(context)
})

test('the ranking lists departments with ranks and opens a unit\'s rates', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '单位排名' }).click()
  await expect(page.getByTestId('stats-ranking')).toBeVisible()
  const { last } = months()
  await page.getByTestId('period-pick').getByText('上月').click()
  await expect(page.getByTestId('stats-ranking')).toHaveAttribute('data-loaded', `${last[0]}/${last[1]}/department`)

  // Departments (the default peers): ranked from 1, with a score, and the chart of the best.
  const table = page.getByTestId('ranking-table')
  await expect(page.getByTestId('ranking-kinds').getByRole('tab', { name: '职能部门' })).toHaveAttribute('aria-selected', 'true')
  const units = table.getByTestId('ranking-unit')
  await expect(units.first()).toBeVisible()
  expect(await units.count()).toBeGreaterThan(5)
  await expect(table.getByTestId('ranking-rank').first()).toHaveText('1')
  await expect(table.getByTestId('ranking-score').first()).toHaveText(/^\d{1,3}\.\d{2}$/)
  const ranks = (await table.getByTestId('ranking-rank').allTextContents()).map((t) => t.trim()).filter((t) => t !== '—').map(Number)
  expect(ranks.length).toBeGreaterThan(0)
  expect([...ranks].sort((a, b) => a - b)).toEqual(ranks)
  await expect(page.getByTestId('ranking-chart')).toHaveAttribute('data-rendered', 'true')
  await expect(page.getByTestId('ranking-formulas')).toContainText('综合得分 =')

  // Towns are another tab.
  await page.getByTestId('ranking-kinds').getByRole('tab', { name: '乡镇街道' }).click()
  await expect(page).toHaveURL(/kind=town/)
  await expect(page.getByTestId('stats-ranking')).toHaveAttribute('data-loaded', `${last[0]}/${last[1]}/town`)
  await expect(units.first()).toContainText(/街道|镇|乡/)

  // A unit opens its figures on the rates page, for the same period.
  await page.getByTestId('ranking-kinds').getByRole('tab', { name: '职能部门' }).click()
  await expect(page.getByTestId('stats-ranking')).toHaveAttribute('data-loaded', `${last[0]}/${last[1]}/department`)
  const name = (await units.first().textContent())!.trim()
  await units.first().click()
  await expect(page).toHaveURL(/\/stats\/rates\?.*unit=\d+/)
  await expect(page.getByTestId('stats-rates')).toHaveAttribute('data-loaded', new RegExp(`^${last[0]}/${last[1]}/\\d+$`))
  await expect(page.getByTestId('stats-scope')).toHaveText(name)
  await expect(page.getByTestId('period-pick').locator('.is-active')).toHaveText('上月')
  await expect(page.getByTestId('rate-card')).toHaveCount(7)
  await closeContext(context)
})

test('an admin applies the Ordos preset and the ranking states the new formulas', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'admin')
  await page.getByRole('menuitem', { name: '单位排名' }).click()
  const formulas = page.getByTestId('ranking-formulas')
  await expect(formulas).toContainText('综合得分 = 0.1 × 响应率 + 0.5 × 解决率 + 0.4 × 满意率')

  await page.getByRole('menuitem', { name: '考核公式' }).click()
  await expect(page.getByTestId('formulas-current')).toContainText('0.1 × 响应率')
  // Weights that do not add up to 1 are refused on the field.
  const response = page.locator('input[name=composite_response]')
  await response.fill('0.5')
  await response.press('Tab')
  await expect(page.getByTestId('formulas-sum')).toHaveText('合计 1.4')
  await page.getByTestId('formulas-save').click()
  await expect(page.locator('.el-form-item.is-error')).toContainText('合计须为 1')

  // A field the server refuses (422) is marked on its form item too.
  await page.getByTestId('preset-apply-strict').click()
  await page.route('**/api/stats/formulas', (route) =>
    route.request().method() === 'PUT'
      ? route.fulfill({
          status: 422,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'invalid', message: '基本满意的权重须在 0 至 1 之间', field: 'basically_satisfied_weight' } }),
        })
      : route.fallback(),
  )
  await page.getByTestId('formulas-save').click()
  await expect(page.locator('.el-form-item.is-error')).toHaveCount(1)
  await expect(page.locator('.el-form-item.is-error')).toContainText('基本满意计为')
  await expect(page.locator('.el-form-item.is-error')).toContainText('基本满意的权重须在 0 至 1 之间')
  await page.unroute('**/api/stats/formulas')

  // The Ordos preset: its formulas stated, chosen, saved.
  await expect(page.getByTestId('preset-ordos')).toContainText('0.3 × 响应率 + 0.35 × 解决率 + 0.35 × 满意率')
  await page.getByTestId('preset-apply-ordos').click()
  await expect(page.locator('.el-form-item.is-error')).toHaveCount(0)
  await expect(page.getByTestId('formulas-sum')).toHaveText('合计 1')
  await page.getByTestId('formulas-save').click()
  await expectSuccess(page, '已保存考核公式')
  await expect(page.getByTestId('formulas-current-preset')).toHaveText('鄂尔多斯')

  await page.getByRole('menuitem', { name: '单位排名' }).click()
  await expect(formulas).toContainText('满意率 =（满意 + 0.9 × 基本满意）/ 回访数')
  await expect(formulas).toContainText('综合得分 = 0.3 × 响应率 + 0.35 × 解决率 + 0.35 × 满意率')

  // Back to the standard formulas for the other tests.
  await page.getByRole('menuitem', { name: '考核公式' }).click()
  await page.getByTestId('preset-apply-standard').click()
  await page.getByTestId('formulas-save').click()
  await expectSuccess(page, '已保存考核公式')
  await expect(page.getByTestId('formulas-current-preset')).toHaveText('标准')
  await closeContext(context)
})

test('the monthly report downloads as an Excel workbook', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'supervisor')
  await page.getByRole('menuitem', { name: '月报' }).click()
  await expect(page.getByTestId('stats-monthly')).toBeVisible()
  await expect(page).toHaveURL(/\/stats\/monthly/)
  await expect(page.getByTestId('monthly-summary')).toContainText('满意率')

  const download = page.waitForEvent('download')
  await page.getByTestId('monthly-download').click()
  const file = await download
  expect(file.suggestedFilename()).toMatch(/\.xlsx$/)
  const bytes = await readFile((await file.path())!)
  expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK') // a zip: the xlsx container
  await expectSuccess(page, '已导出')
  await closeContext(context)
})

test('a unit admin sees their own unit\'s rates only', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'unit_admin')
  await expect(page.getByRole('menuitem', { name: '单位排名' })).toHaveCount(0)
  await expect(page.getByRole('menuitem', { name: '月报' })).toHaveCount(0)
  await page.getByRole('menuitem', { name: '指标统计' }).click()
  await expect(page.getByTestId('rate-card')).toHaveCount(7)
  await expect(page.getByTestId('stats-scope')).toHaveText('市住房和城乡建设局')
  await page.goto('/stats/ranking')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
