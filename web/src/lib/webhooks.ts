// Open to other systems (issue 8): the order events a webhook may subscribe to, where each
// delivery stands, paging the delivery log by cursor (`before` = the smallest id seen), and the
// interfaces (scopes) an API token may use.
import type { WebhookDelivery } from '../api/types'
import { TRANSFER_EVENT_LABELS } from './transfers'

/** The server's event kinds (`event_kinds` of GET /api/webhooks), in the order it lists them. */
export const EVENT_KIND_LABELS: Record<string, string> = {
  accepted: '受理',
  amended: '修改分类',
  instant_answered: '即答办结',
  dispatched: '派单/转派',
  signed: '签收',
  returned: '退单',
  note_added: '办理记录',
  attachment_added: '上传附件',
  extension_requested: '申请延期',
  extension_decided: '延期审批',
  replied: '反馈',
  checked: '核验',
  called_back: '回访',
  callback_not_reached: '回访未接通',
  supervised: '督办',
  notice_responded: '督办回复',
  closed_without_callback: '免回访办结',
  withdrawn: '撤单',
  invalidated: '作废',
  merged_into: '合并至他单',
  merged_from: '并入他单',
  repeat_found: '识别为重复诉求',
  reminder_sent: '到期提醒',
  overdue_marked: '逾期',
}

/** `accepted` or a delivery's `order.accepted` → `受理`; an unknown kind stays as it is. */
export function eventLabel(kind: string): string {
  const k = kind.startsWith('order.') ? kind.slice('order.'.length) : kind
  return EVENT_KIND_LABELS[k] ?? TRANSFER_EVENT_LABELS[k] ?? kind
}

/** What a subscription receives: `全部事件` when it names none. */
export function eventsText(events: readonly string[]): string {
  return events.length ? events.map(eventLabel).join('、') : '全部事件'
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead'

export const DELIVERY_STATUSES: readonly { code: DeliveryStatus; label: string; tag: 'warning' | 'success' | 'danger' }[] = [
  { code: 'pending', label: '待投递', tag: 'warning' },
  { code: 'delivered', label: '已送达', tag: 'success' },
  { code: 'dead', label: '失败', tag: 'danger' },
]

export function isDeliveryStatus(s: unknown): s is DeliveryStatus {
  return DELIVERY_STATUSES.some((d) => d.code === s)
}

export function deliveryStatusLabel(code: string): string {
  return DELIVERY_STATUSES.find((d) => d.code === code)?.label ?? code
}

export function deliveryStatusTag(code: string): 'warning' | 'success' | 'danger' | 'info' {
  return DELIVERY_STATUSES.find((d) => d.code === code)?.tag ?? 'info'
}

/** The last attempt's outcome in words: `HTTP 500`, the transport error, or empty before any. */
export function lastResultText(d: Pick<WebhookDelivery, 'attempts' | 'last_status' | 'last_error'>): string {
  if (d.attempts === 0) return ''
  const parts: string[] = []
  if (d.last_status !== null && d.last_status !== undefined) parts.push(`HTTP ${d.last_status}`)
  if (d.last_error && !(d.last_status && d.last_error.startsWith('receiver answered'))) {
    parts.push(d.last_error === 'timed out' ? '超时未应答' : d.last_error)
  }
  return parts.join(' · ')
}

/** The most deliveries the server gives in one answer. */
export const MAX_DELIVERIES = 500

/**
 * The delivery log read newest first, a page at a time: each page asks for the deliveries older
 * than the smallest id seen so far. A full page means there may be more.
 */
export class DeliveryLog {
  items: WebhookDelivery[] = []
  hasMore = false

  constructor(readonly limit: number) {}

  reset(): void {
    this.items = []
    this.hasMore = false
  }

  /** The `before` cursor for the next page (null for the first one). */
  get before(): number | null {
    if (!this.items.length) return null
    return this.items.reduce((m, d) => Math.min(m, d.id), Number.POSITIVE_INFINITY)
  }

  /** How many to ask for when re-reading from the newest: a page, or as many as are listed (the server gives ≤ 500). */
  get reloadLimit(): number {
    return Math.min(MAX_DELIVERIES, Math.max(this.limit, this.items.length))
  }

  /** Replaces the list with a re-read from the newest that asked for `askedFor`. */
  replace(page: readonly WebhookDelivery[], askedFor: number): void {
    this.items = [...page]
    this.hasMore = page.length >= askedFor
  }

  /** Adds a page as the server answered it; a delivery already listed is not listed twice. */
  add(page: readonly WebhookDelivery[]): void {
    const seen = new Set(this.items.map((d) => d.id))
    this.items = [...this.items, ...page.filter((d) => !seen.has(d.id))]
    this.hasMore = page.length >= this.limit
  }
}

/** A subscription as an admin fills it in; the server checks the rest (422 on the field). */
export function checkWebhook(f: { name: string; url: string }): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!f.name.trim()) out.name = '请填写名称'
  if (!f.url.trim()) out.url = '请填写接收地址'
  return Object.keys(out).length ? out : null
}

/** The interfaces an API token may use (`scopes` of POST /api/tokens). */
export const TOKEN_SCOPES: readonly { code: string; label: string }[] = [
  { code: 'api', label: 'JSON 接口' },
  { code: 'open311', label: 'Open311 受理' },
  { code: 'transfer', label: '平台转办' },
  { code: 'telephony', label: '话务事件' },
  { code: 'grid', label: '网格平台' },
]

/** A new token's scopes unless the admin chooses otherwise. */
export const DEFAULT_SCOPES: readonly string[] = ['api']

export function scopeLabel(code: string): string {
  return TOKEN_SCOPES.find((s) => s.code === code)?.label ?? code
}

/** A token's scopes in the order of TOKEN_SCOPES (unknown ones last). */
export function sortScopes(codes: readonly string[]): string[] {
  const rank = (c: string) => {
    const i = TOKEN_SCOPES.findIndex((s) => s.code === c)
    return i < 0 ? TOKEN_SCOPES.length : i
  }
  return [...codes].sort((a, b) => rank(a) - rank(b))
}
