// Set-ups through the API, each step by the role that takes it (for the browser tests of the
// later steps): an order accepted and dispatched to 住建局, signed, replied and checked.
import type { Browser } from '@playwright/test'
import { apiAs, expect } from './fixtures'

/** 市住房和城乡建设局, where the demo's handler works. */
export const HOUSING_ID = 2

export interface Created {
  id: number
  number: string
}

async function post(browser: Browser, user: string, path: string, data: unknown = {}) {
  const api = await apiAs(browser, user)
  const r = await api.request.post(path, { data })
  const body = await r.json().catch(() => null)
  expect(r.ok(), `${user} POST ${path}: ${JSON.stringify(body)}`).toBeTruthy()
  await api.close()
  return body
}

/** The agent accepts a call; the dispatcher sends it to 住建局. */
export async function acceptAndDispatch(browser: Browser, content: string, citizen = { name: '吴女士', phone: '13600001111' }): Promise<Created> {
  const o = await post(browser, 'agent', '/api/orders', { channel: 'phone', request_type: 'complaint', content, citizen })
  await post(browser, 'dispatcher', `/api/orders/${o.id}/dispatch`, { targets: [{ unit_id: HOUSING_ID, role: 'lead' }] })
  return { id: o.id, number: o.number }
}

/** 住建局 replies and the dispatcher accepts the reply: the order waits for its callback. */
export async function replyAndCheck(browser: Browser, id: number, content = '已现场核查并处理完毕。') {
  await post(browser, 'handler', `/api/orders/${id}/reply`, { content, contacted_citizen: true })
  const o = await post(browser, 'dispatcher', `/api/orders/${id}/check`, { approve: true })
  expect(o.status.code).toBe('callback_pending')
}

/** An order waiting for its callback. */
export async function waitingForCallback(browser: Browser, content: string): Promise<Created> {
  const o = await acceptAndDispatch(browser, content)
  await post(browser, 'handler', `/api/orders/${o.id}/sign`)
  await replyAndCheck(browser, o.id)
  return o
}

/** The callback staff records an unsatisfied callback: the order goes back for re-handling. */
export async function unsatisfiedCallback(browser: Browser, id: number) {
  const o = await post(browser, 'callback', `/api/orders/${id}/callback`, { satisfaction: 'dissatisfied', resolved: false, comment: '问题依旧' })
  return o as { status: { code: string }; rehandle_count: number; escalated: boolean }
}

export async function apiGet<T>(browser: Browser, user: string, path: string): Promise<T> {
  const api = await apiAs(browser, user)
  const r = await api.request.get(path)
  expect(r.ok(), `${user} GET ${path}`).toBeTruthy()
  const body = (await r.json()) as T
  await api.close()
  return body
}

/** The organisation's root unit (the city centre). */
export async function rootUnitId(browser: Browser): Promise<number> {
  const units = await apiGet<{ items: { id: number; parent_id: number | null }[] }>(browser, 'admin', '/api/units')
  const root = units.items.find((u) => u.parent_id === null)
  expect(root, 'a root unit').toBeTruthy()
  return root!.id
}

/** The admin issues an API token for another system (the root unit, as an agent) limited to `scopes`. */
export async function issueToken(browser: Browser, name: string, scopes: string[]): Promise<string> {
  const unit_id = await rootUnitId(browser)
  const body = await post(browser, 'admin', '/api/tokens', { name, unit_id, roles: ['agent'], scopes })
  expect(typeof body.token).toBe('string')
  return body.token as string
}

/** An order the agent accepts over the API. */
export async function agentAccepts(browser: Browser, body: Record<string, unknown>): Promise<Created> {
  const o = await post(browser, 'agent', '/api/orders', body)
  return { id: o.id, number: o.number }
}

/** A short unique suffix for names in one test run. */
export function runSuffix(): string {
  return `${Date.now() % 1_000_000}${Math.floor(Math.random() * 90 + 10)}`
}
