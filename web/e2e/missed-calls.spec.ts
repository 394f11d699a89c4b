// The call centre (issue 8): call events posted with a token limited to the telephony interface;
// two callers give up before an answer and land in the missed-call queue (漏话回拨). The agent
// records an unanswered callback for one (1/3 attempts) and reaches the other, taking the call as
// an order on the accept screen (the number filled in, the item settled as reached and linked to
// the order). A supervisor follows the queue with masked numbers and reads the call figures
// (话务统计, 接通率 with the rates) as the API gives them.
import { request, type Page } from '@playwright/test'
import { apiGet, issueToken, runSuffix } from './api-steps'
import { baseUrl, closeContext, expect, expectSuccess, loginAs, test } from './fixtures'

interface CallStats {
  offered: number
  answered: number
  abandoned: number
  connect_rate: number | null
  service_level: number | null
  avg_answer_s: number | null
  missed: { items: number; reached: number; called_in: number; recovery_rate: number | null }
  agents: { agent: string; answered: number }[]
}

interface Missed {
  id: number
  caller: string
  status: string
  result: string | null
  attempts: number
  max_attempts: number
  order_id: number | null
}

const pct = (v: number | null) => (v === null ? '—' : `${(Math.round(v * 10_000) / 100).toFixed(2)}%`)

/** A mobile number nobody else in the demo uses. */
function phone(n: number): string {
  return `1390${String((Date.now() + n * 7919) % 10_000_000).padStart(7, '0')}`
}

function rowOf(page: Page, caller: string) {
  return page.locator('[data-testid=missed-table] .el-table__body tr', { has: page.locator('[data-testid=missed-caller]', { hasText: caller }) })
}

test('missed calls are called back, one taken as an order; the call figures match the API', async ({ browser }) => {
  const suffix = runSuffix()
  const token = await issueToken(browser, `话务系统 ${suffix}`, ['telephony'])
  const tel = await request.newContext({ baseURL: baseUrl(), extraHTTPHeaders: { authorization: `Bearer ${token}` } })
  const send = async (call_id: string, event: string, at: number, extra: Record<string, string> = {}) => {
    const r = await tel.post('/api/telephony/events', { data: { call_id, event, at: new Date(at).toISOString(), line: '12345', ...extra } })
    expect(r.ok(), `${event} ${call_id}: ${await r.text()}`).toBeTruthy()
    return (await r.json()) as { result: string }
  }
  const a = phone(1)
  const b = phone(2)
  const c = phone(3)
  const t0 = Date.now() - 10 * 60_000
  // Two callers give up in the queue; a third is answered by agent 1099 and talks for 3 minutes.
  await send(`e2e-${suffix}-a`, 'incoming', t0, { caller: a })
  await send(`e2e-${suffix}-a`, 'abandoned', t0 + 25_000)
  await send(`e2e-${suffix}-b`, 'incoming', t0 + 60_000, { caller: b })
  await send(`e2e-${suffix}-b`, 'abandoned', t0 + 100_000)
  await send(`e2e-${suffix}-c`, 'incoming', t0 + 120_000, { caller: c })
  await send(`e2e-${suffix}-c`, 'answered', t0 + 128_000, { agent: '1099' })
  await send(`e2e-${suffix}-c`, 'ended', t0 + 308_000)
  // A resend changes nothing.
  expect((await send(`e2e-${suffix}-a`, 'abandoned', t0 + 25_000)).result).toBe('duplicate')
  // The token is for call events only.
  expect((await tel.get('/api/orders')).status()).toBe(403)
  await tel.dispose()

  // ---- the agent calls back ----
  const { context, page } = await loginAs(browser, 'agent')
  await page.getByRole('menuitem', { name: '漏话回拨' }).click()
  await expect(page).toHaveURL(/\/missed-calls/)
  const queue = page.getByTestId('missed-calls')
  await expect(queue).toHaveAttribute('data-loaded', 'pending')
  const rowA = rowOf(page, a)
  const rowB = rowOf(page, b)
  await expect(rowA).toHaveCount(1)
  await expect(rowB).toHaveCount(1)
  await expect(rowOf(page, c)).toHaveCount(0)
  await expect(rowA.getByTestId('missed-count')).toHaveText('1')
  await expect(rowA.getByTestId('missed-waiting')).toHaveText(/^已等待 (9|10|11)分钟$/)
  await expect(rowA.getByTestId('missed-attempts')).toHaveText('0/3')

  // Nobody answers at A's number: one attempt of three.
  await rowA.locator('[data-action=record]').click()
  const dialog = page.locator('.el-dialog', { has: page.getByTestId('missed-form') })
  await expect(dialog).toBeVisible()
  await expect(dialog).toContainText(a)
  await dialog.getByTestId('missed-outcome').getByText('未接通', { exact: true }).click()
  await expect(dialog.locator('input[name=order_id]')).toHaveCount(0)
  await dialog.locator('textarea[name=note]').fill('无人接听')
  await dialog.getByTestId('missed-save').click()
  await expectSuccess(page, '已记录第 1 次未接通')
  await expect(dialog).toBeHidden()
  await expect(rowA.getByTestId('missed-attempts')).toHaveText('1/3')
  const listed = await apiGet<{ items: Missed[] }>(browser, 'agent', '/api/telephony/missed?status=pending&limit=200')
  const itemA = listed.items.find((m) => m.caller === a)!
  const itemB = listed.items.find((m) => m.caller === b)!
  expect(itemA).toMatchObject({ status: 'pending', attempts: 1, max_attempts: 3 })

  // Its log: the missed call, then the attempt, by the agent, with the note.
  await rowA.locator('[data-action=detail]').click()
  const drawer = page.locator('.el-drawer', { has: page.getByTestId('missed-log') })
  await expect(drawer.getByTestId('missed-log-action')).toHaveText(['回拨未接通', '漏接'])
  await expect(drawer).toContainText('无人接听')
  await drawer.locator('.el-drawer__close-btn').click()

  // B answers and has a request: taken as an order on the accept screen, the number filled in.
  await rowB.locator('[data-action=record]').click()
  await expect(dialog).toContainText(b)
  await dialog.getByTestId('missed-accept').click()
  await expect(page).toHaveURL(new RegExp(`/accept\\?.*missed=${itemB.id}`))
  await expect(page.getByTestId('missed-context')).toBeVisible()
  await expect(page.locator('input[name=phone]')).toHaveValue(b)
  // (Short content: no dispatch suggestion is asked for.)
  await page.locator('textarea[name=content]').fill('问停水')
  await page.getByTestId('accept-submit').click()
  await expectSuccess(page, '漏话回拨已记为“回拨接通”')
  await expect(page.getByTestId('created-number')).toBeVisible()
  const number = (await page.getByTestId('created-number').textContent())!.trim()
  await expect(page.getByTestId('missed-context')).toHaveCount(0)

  await page.goto('/missed-calls')
  await expect(queue).toHaveAttribute('data-loaded', 'pending')
  await expect(rowA).toHaveCount(1)
  await expect(rowB).toHaveCount(0)
  await page.getByTestId('missed-tabs').getByText('已处理').click()
  await expect(queue).toHaveAttribute('data-loaded', 'done')
  await expect(rowB.getByTestId('missed-result')).toHaveText('回拨接通')
  await rowB.getByTestId('missed-order').click()
  await expect(page.getByTestId('order-number')).toHaveText(number)
  const detail = await apiGet<{ item: Missed; log: { action: string; order_id: number | null }[] }>(browser, 'agent', `/api/telephony/missed/${itemB.id}`)
  expect(detail.item).toMatchObject({ status: 'done', result: 'reached' })
  expect(detail.item.order_id).toBeGreaterThan(0)
  expect(detail.log.map((l) => l.action)).toEqual(['missed', 'reached'])
  await closeContext(context)

  // ---- the supervisor: the queue masked, the figures ----
  const sup = await loginAs(browser, 'supervisor')
  const sp = sup.page
  await sp.goto('/missed-calls')
  await expect(sp.getByTestId('missed-calls')).toHaveAttribute('data-loaded', 'pending')
  const masked = `${a.slice(0, 3)}****${a.slice(-4)}`
  const maskedRow = sp.locator('[data-testid=missed-table] .el-table__body tr', { has: sp.locator('[data-testid=missed-caller]', { hasText: masked }) })
  await expect(maskedRow.first()).toBeVisible()
  await expect(sp.getByTestId('missed-table')).not.toContainText(a)
  await expect(sp.locator('[data-action=record]')).toHaveCount(0)

  await sp.getByRole('menuitem', { name: '话务统计' }).click()
  const calls = sp.getByTestId('stats-calls')
  await expect(calls).toHaveAttribute('data-loaded', /^\d{4}-\d{2}-\d{2}\/\d{4}-\d{2}-\d{2}$/)
  const [from, to] = (await calls.getAttribute('data-loaded'))!.split('/')
  const api = await apiGet<CallStats>(browser, 'supervisor', `/api/telephony/stats?from=${from}&to=${to}`)
  expect(api.offered).toBeGreaterThanOrEqual(3)
  expect(api.answered + api.abandoned).toBeGreaterThanOrEqual(3)
  expect(api.connect_rate).toBeCloseTo(api.answered / (api.answered + api.abandoned), 6)
  const card = (key: string) => sp.locator(`[data-testid=call-card][data-figure=${key}]`)
  await expect(card('connect_rate').getByTestId('call-value')).toHaveText(pct(api.connect_rate))
  await expect(card('connect_rate')).toContainText('接通率 = 接通数 / (接通数 + 放弃数)')
  await expect(card('service_level').getByTestId('call-value')).toHaveText(pct(api.service_level))
  await expect(card('recovery_rate').getByTestId('call-value')).toHaveText(pct(api.missed.recovery_rate))
  await expect(card('avg_answer_s').getByTestId('call-value')).toHaveText(/秒|—/)
  await expect(sp.locator('[data-testid=call-figures] [data-figure=offered]')).toContainText(api.offered.toLocaleString('zh-CN'))
  await expect(sp.locator('[data-testid=missed-figures] [data-figure=items]')).toContainText(api.missed.items.toLocaleString('zh-CN'))
  const agent = sp.locator('[data-testid=call-agents] .el-table__body tr', { has: sp.locator('[data-testid=agent-id]', { hasText: /^1099$/ }) })
  await expect(agent.getByTestId('agent-answered')).toHaveText(String(api.agents.find((x) => x.agent === '1099')!.answered))

  // 接通率 beside the seven rates, for the whole centre.
  await sp.goto(`/stats/rates?from=${from}&to=${to}`)
  const rates = await apiGet<{ connect_rate: number | null }>(browser, 'supervisor', `/api/stats/rates?from=${from}&to=${to}`)
  expect(rates.connect_rate).not.toBeNull()
  await expect(sp.getByTestId('connect-card').getByTestId('connect-value')).toHaveText(pct(rates.connect_rate))
  await expect(sp.getByTestId('rate-card')).toHaveCount(7)
  await closeContext(sup.context)
})
