// Order-list filters ⇄ the query string of `GET /api/orders` (and `/api/orders/export`).

export interface OrderFilters {
  status?: string[]
  request_type?: string[]
  channel?: string[]
  category?: string
  region?: string
  unit?: number
  assignment_status?: string
  /** `YYYY-MM-DD`, inclusive */
  from?: string
  /** `YYYY-MM-DD`, inclusive in the UI (sent as the next day: the API's `to` is exclusive) */
  to?: string
  overdue?: boolean
  due_within_hours?: number
  emergency?: boolean
  number?: string
  phone?: string
  /** `pending`: open orders with a supervision notice (督办) awaiting its unit's response. */
  notice?: 'pending'
  sort?: string
}

export const SORTS = [
  { code: '-accepted_at', label: '受理时间（新→旧）' },
  { code: 'accepted_at', label: '受理时间（旧→新）' },
  { code: 'due_at', label: '到期时间（近→远）' },
  { code: '-updated_at', label: '最近更新' },
] as const

/** The next calendar day of `YYYY-MM-DD`. */
export function nextDay(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  if (!m) return date
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1))
  return d.toISOString().slice(0, 10)
}

/** The query parameters for the filters; empty values are left out. */
export function filtersToParams(
  f: OrderFilters,
  page: { limit?: number; cursor?: string | null } = {},
): URLSearchParams {
  const p = new URLSearchParams()
  const list = (k: string, v?: string[]) => {
    const vals = (v ?? []).map((s) => s.trim()).filter(Boolean)
    if (vals.length) p.set(k, vals.join(','))
  }
  const text = (k: string, v?: string | number | null) => {
    if (v === undefined || v === null) return
    const s = String(v).trim()
    if (s) p.set(k, s)
  }
  list('status', f.status)
  list('request_type', f.request_type)
  list('channel', f.channel)
  text('category', f.category)
  text('region', f.region)
  if (f.unit !== undefined && f.unit !== null && Number.isFinite(f.unit)) text('unit', f.unit)
  if (f.assignment_status && f.unit !== undefined) text('assignment_status', f.assignment_status)
  text('from', f.from)
  if (f.to) text('to', nextDay(f.to))
  if (f.overdue) p.set('overdue', 'true')
  if (f.due_within_hours && f.due_within_hours > 0) text('due_within_hours', Math.floor(f.due_within_hours))
  if (f.emergency) p.set('emergency', 'true')
  text('number', f.number)
  text('phone', f.phone?.replace(/[\s()-]/g, ''))
  text('notice', f.notice)
  if (f.sort && f.sort !== '-accepted_at') p.set('sort', f.sort)
  if (page.limit) p.set('limit', String(page.limit))
  if (page.cursor) p.set('cursor', page.cursor)
  return p
}

/** Reads filters back from a route query (for links such as `/orders?overdue=true`). */
export function filtersFromQuery(q: Record<string, unknown>): OrderFilters {
  const s = (k: string): string | undefined => {
    const v = q[k]
    const one = Array.isArray(v) ? v[0] : v
    return typeof one === 'string' && one !== '' ? one : undefined
  }
  const list = (k: string) => s(k)?.split(',').filter(Boolean)
  const f: OrderFilters = {}
  const status = list('status')
  if (status) f.status = status
  const rt = list('request_type')
  if (rt) f.request_type = rt
  const ch = list('channel')
  if (ch) f.channel = ch
  if (s('category')) f.category = s('category')
  if (s('region')) f.region = s('region')
  const unit = s('unit')
  if (unit && /^\d+$/.test(unit)) f.unit = Number(unit)
  if (s('assignment_status')) f.assignment_status = s('assignment_status')
  if (s('from')) f.from = s('from')
  if (s('to')) f.to = s('to')
  if (s('overdue') === 'true') f.overdue = true
  const due = s('due_within_hours')
  if (due && /^\d+$/.test(due)) f.due_within_hours = Number(due)
  if (s('emergency') === 'true') f.emergency = true
  if (s('number')) f.number = s('number')
  if (s('phone')) f.phone = s('phone')
  if (s('notice') === 'pending') f.notice = 'pending'
  if (s('sort')) f.sort = s('sort')
  return f
}

/** A total as shown: `total_capped` means the server stopped counting (`≥ 10000`). */
export function formatTotal(total: number, capped: boolean): string {
  return capped ? `≥ ${total}` : String(total)
}
