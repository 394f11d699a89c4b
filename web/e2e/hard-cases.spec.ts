// 每月一题: orders accepted this month in two issues (a category in a district), some called back
// dissatisfied, make them candidates; the page lists the month's issues as the API ranks them,
// every count opens its orders (cut by the category and the district), a supervisor picks an
// issue with the responsible unit and a note and it shows as picked; picking an issue someone
// else has just picked shows the server's refusal; a leader reads the list but picks nothing.
import type { Browser, BrowserContext, Page } from '@playwright/test'
import { HOUSING_ID } from './api-steps'
import { apiAs, closeContext, expect, expectSuccess, loginAs, pickUnit, quietMessages, shot, test } from './fixtures'

interface Counts {
  accepted: number
  called_back: number
  resolved: number
  dissatisfied: number
  rehandled: number
  escalated: number
  late: number
}
interface Issue {
  category_code: string
  category_name: string
  district_code: string
  district_name: string
  counts: Counts
  resolution_rate: number | null
  satisfaction_rate: number | null
  previous_accepted: number
  difficulty: number
  picked: null | { unit_id: number | null; unit_name: string | null; note: string; by_name: string; at: string }
}
interface HardCases {
  month: string
  from: string
  to: string
  items: Issue[]
}

/** One logged-in API context per demo user, for the set-up. */
class Api {
  private contexts = new Map<string, BrowserContext>()
  constructor(private browser: Browser) {}
  private async as(user: string) {
    let c = this.contexts.get(user)
    if (!c) {
      c = await apiAs(this.browser, user)
      this.contexts.set(user, c)
    }
    return c
  }
  async post(user: string, path: string, data: unknown = {}) {
    const r = await (await this.as(user)).request.post(path, { data })
    const body = await r.json().catch(() => null)
    expect(r.ok(), `${user} POST ${path}: ${JSON.stringify(body)}`).toBeTruthy()
    return body
  }
  async get<T>(user: string, path: string): Promise<T> {
    const r = await (await this.as(user)).request.get(path)
    expect(r.ok(), `${user} GET ${path}`).toBeTruthy()
    return (await r.json()) as T
  }
  async close() {
    for (const c of this.contexts.values()) await c.close()
  }
}

/** This month in China. */
function thisMonth(): string {
  const now = new Date(Date.now() + 8 * 3600_000)
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`
}

/** An order of the issue accepted; with `dissatisfied` handled and called back dissatisfied and unresolved (re-handled). */
async function order(api: Api, category: string, region: string, content: string, dissatisfied: boolean) {
  const o = await api.post('agent', '/api/orders', {
    channel: 'phone',
    request_type: 'complaint',
    content,
    category,
    region_code: region,
    citizen: { name: '钱先生', phone: '13700002222' },
  })
  if (!dissatisfied) return o.id as number
  await api.post('dispatcher', `/api/orders/${o.id}/dispatch`, { targets: [{ unit_id: HOUSING_ID, role: 'lead' }] })
  await api.post('handler', `/api/orders/${o.id}/sign`)
  await api.post('handler', `/api/orders/${o.id}/reply`, { content: '已协调处理。', contacted_citizen: true })
  await api.post('dispatcher', `/api/orders/${o.id}/check`, { approve: true })
  await api.post('callback', `/api/orders/${o.id}/callback`, { satisfaction: 'dissatisfied', resolved: false, comment: '问题依旧' })
  return o.id as number
}

const key = (i: Pick<Issue, 'category_code' | 'district_code'>) => `${i.category_code}|${i.district_code}`
const pct = (r: number | null) => (r === null ? '—' : `${(Math.round(r * 1000) / 10).toFixed(1)}%`)

/** Opens the page and returns what it read from the API. */
async function openPage(page: Page, how: () => Promise<unknown>): Promise<HardCases> {
  const read = page.waitForResponse((r) => r.url().includes('/api/supervision/hard-cases?') && r.request().method() === 'GET')
  await how()
  const data = (await (await read).json()) as HardCases
  await expect(page.getByTestId('hard-cases')).toHaveAttribute('data-loaded', data.month)
  return data
}

const row = (page: Page, issue: Pick<Issue, 'category_code' | 'district_code'>) =>
  page.getByTestId('hard-cases-table').locator('.el-table__row').filter({ has: page.locator(`[data-issue="${key(issue)}"]`) })

test('the month\'s hardest issues are listed, drill down to their orders, and one is picked', async ({ browser }) => {
  const api = new Api(browser)
  const month = thisMonth()
  // Two districts of the demo city and two categories: issue X (three orders, two called back
  // dissatisfied), issue Y (two orders, one called back dissatisfied).
  const regions = (await api.get<{ items: { code: string; name: string; level: number }[] }>('agent', '/api/regions')).items
  const districts = regions.filter((r) => r.level === 3)
  expect(districts.length).toBeGreaterThan(3)
  const X = { category_code: '06.01', district_code: districts[2].code }
  const Y = { category_code: '06.04', district_code: districts[3].code }
  await order(api, X.category_code, X.district_code, '出租车拒载绕路，司机态度恶劣，多次投诉无果。', true)
  await order(api, X.category_code, X.district_code, '出租车议价不打表，要求严查。', true)
  await order(api, X.category_code, X.district_code, '火车站出租车排队秩序混乱。', false)
  await order(api, Y.category_code, Y.district_code, '客运站班车超载，存在安全隐患。', true)
  await order(api, Y.category_code, Y.district_code, '城乡客运班车经常不按时发车。', false)

  const listed = await api.get<HardCases>('supervisor', `/api/supervision/hard-cases?month=${month}`)
  const x = listed.items.find((i) => key(i) === key(X))!
  expect(x, JSON.stringify(listed.items.map(key))).toBeTruthy()
  expect(x.counts.accepted).toBeGreaterThanOrEqual(3)
  expect(x.counts.dissatisfied).toBeGreaterThanOrEqual(2)
  expect(x.difficulty).toBeGreaterThanOrEqual(8)
  expect(listed.items.some((i) => key(i) === key(Y))).toBe(true)

  // 督办员: from the board to 每月一题; this month (China) by default, the issues as the API has them.
  const { context, page } = await loginAs(browser, 'supervisor')
  await page.getByRole('menuitem', { name: '督办看板' }).click()
  await expect(page.getByTestId('supervision-board')).toBeVisible()
  const data = await openPage(page, () => page.getByTestId('board-hard-cases').click())
  await expect(page).toHaveURL(/\/supervise\/hard-cases/)
  expect(data.month).toBe(month)
  await expect(page.locator('input[name=hard-cases-month]')).toHaveValue(`${month.slice(0, 4)}年${Number(month.slice(5))}月`)
  const rows = page.getByTestId('hard-case')
  await expect(rows).toHaveCount(data.items.length)
  expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-issue')))).toEqual(data.items.map(key))
  for (const issue of data.items.filter((i) => [key(X), key(Y)].includes(key(i)))) {
    const r = row(page, issue)
    await expect(r.getByTestId('hc-category')).toHaveText(issue.category_name)
    await expect(r.getByTestId('hc-district')).toHaveText(issue.district_name)
    await expect(r.getByTestId('hc-count-accepted')).toHaveText(String(issue.counts.accepted))
    await expect(r.getByTestId('hc-previous')).toHaveText(String(issue.previous_accepted))
    await expect(r.getByTestId('hc-unresolved')).toHaveText(String(Math.max(0, issue.counts.called_back - issue.counts.resolved)))
    for (const m of ['dissatisfied', 'rehandled', 'escalated', 'late'] as const) {
      await expect(r.getByTestId(`hc-count-${m}`)).toHaveText(String(issue.counts[m]))
    }
    await expect(r.getByTestId('hc-resolution')).toHaveText(pct(issue.resolution_rate))
    await expect(r.getByTestId('hc-satisfaction')).toHaveText(pct(issue.satisfaction_rate))
    await expect(r.getByTestId('hc-difficulty')).toHaveText(String(issue.difficulty))
    await expect(r.getByTestId('hc-pick')).toHaveText('列为每月一题')
  }
  const dx = data.items.find((i) => key(i) === key(X))!
  if (dx.previous_accepted === 0) await expect(row(page, X).getByTestId('hc-growth')).toHaveText('新增')

  // X's orders this month, and its dissatisfied ones: the drawer lists as many as the count,
  // asked for with the category and the district.
  const drawer = page.getByTestId('stat-orders')
  for (const m of ['accepted', 'dissatisfied'] as const) {
    const read = page.waitForResponse((r) => r.url().includes('/api/stats/orders?'))
    await row(page, X).getByTestId(`hc-count-${m}`).click()
    const url = new URL((await read).url())
    expect(Object.fromEntries(url.searchParams)).toEqual({ measure: m, from: data.from, to: data.to, category: X.category_code, region: X.district_code })
    await expect(drawer).toHaveAttribute('data-measure', m)
    await expect(drawer.getByTestId('stat-orders-total')).toHaveText(String(dx.counts[m]))
    await expect(drawer.getByTestId('stat-order-link')).toHaveCount(dx.counts[m])
    await expect(page.locator('.el-drawer__title')).toContainText(`${dx.category_name} · ${dx.district_name}`)
    await page.keyboard.press('Escape')
    await expect(drawer).toBeHidden()
  }

  // X is picked: the note is required; 住建局 is made responsible.
  const note = '出租车拒载绕路问题本月集中治理，交通运输部门牵头，月底前报送整改方案。'
  await row(page, X).getByTestId('hc-pick').click()
  const form = page.getByTestId('hc-pick-form')
  await expect(form.getByTestId('hc-pick-issue')).toContainText(`${dx.category_name} · ${dx.district_name}`)
  await page.getByRole('dialog').getByRole('button', { name: '列入' }).click()
  await expect(form.locator('.el-form-item.is-error')).toContainText('请填写说明')
  await pickUnit(page, 'hc-unit', '住房', '市住房和城乡建设局')
  await form.locator('textarea[name=note]').fill(note)
  await page.waitForTimeout(300)
  await shot(page, 'hard-case-pick.png')
  const picking = page.waitForResponse((r) => r.url().endsWith(`/api/supervision/hard-cases/${month}`) && r.request().method() === 'POST')
  await page.getByRole('dialog').getByRole('button', { name: '列入' }).click()
  expect((await picking).status()).toBe(204)
  await expectSuccess(page, '列为')
  const px = row(page, X)
  await expect(px.getByTestId('hard-case')).toHaveAttribute('data-picked', 'true')
  await expect(px.getByTestId('hc-picked-unit')).toHaveText('市住房和城乡建设局')
  await expect(px.getByTestId('hc-picked-note')).toHaveText(note)
  await expect(px.getByTestId('hc-picked-by')).toContainText(/督办/)
  await expect(px.getByTestId('hc-pick')).toHaveCount(0)
  const after = await api.get<HardCases>('supervisor', `/api/supervision/hard-cases?month=${month}`)
  const pickedX = after.items.find((i) => key(i) === key(X))!.picked!
  expect(pickedX).toMatchObject({ unit_id: HOUSING_ID, unit_name: '市住房和城乡建设局', note })
  await expect(px.getByTestId('hc-picked-by')).toHaveText(new RegExp(`^${pickedX.by_name} · `))
  await expect(page.getByTestId('hard-cases-picked')).toHaveText('1')

  // Meanwhile an admin picks Y; the supervisor, whose page still offers it, is told it is taken,
  // and the list shows it picked.
  await api.post('admin', `/api/supervision/hard-cases/${month}`, { category: Y.category_code, district: Y.district_code, note: '客运班车安全隐患专项整治' })
  await row(page, Y).getByTestId('hc-pick').click()
  await form.locator('textarea[name=note]').fill('客运班车问题集中治理')
  await page.getByRole('dialog').getByRole('button', { name: '列入' }).click()
  await expect(page.locator('.el-message--error').filter({ hasText: '该问题已列入本月每月一题' })).toBeVisible()
  await expect(row(page, Y).getByTestId('hard-case')).toHaveAttribute('data-picked', 'true')
  await expect(row(page, Y).getByTestId('hc-picked-note')).toHaveText('客运班车安全隐患专项整治')
  await expect(row(page, Y).getByTestId('hc-picked-unit')).toHaveText('未指定责任单位')
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'hard-cases.png')
  await closeContext(context)

  // A leader reads the list from the menu, the picks among it, and picks nothing.
  const leader = await loginAs(browser, 'leader')
  const seen = await openPage(leader.page, () => leader.page.getByRole('menuitem', { name: '每月一题' }).click())
  await expect(leader.page.getByTestId('hard-case')).toHaveCount(seen.items.length)
  await expect(row(leader.page, X).getByTestId('hc-picked-note')).toHaveText(note)
  await expect(leader.page.getByTestId('hc-pick')).toHaveCount(0)
  // Last month, from the picker's month in the address.
  const last = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5)) - 2, 1))
  const lastMonth = `${last.getUTCFullYear()}-${String(last.getUTCMonth() + 1).padStart(2, '0')}`
  const before = await openPage(leader.page, () => leader.page.goto(`/supervise/hard-cases?month=${lastMonth}`))
  expect(before.month).toBe(lastMonth)
  await expect(leader.page.getByTestId('hard-case')).toHaveCount(before.items.length)
  await closeContext(leader.context)
  await api.close()
})

test('a unit\'s staff have no 每月一题', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'unit_admin')
  await expect(page.getByRole('menuitem', { name: '每月一题' })).toHaveCount(0)
  await page.goto('/supervise/hard-cases')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
