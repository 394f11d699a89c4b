// The call centre (话务): the missed-call queue (漏话回拨) — what each result and log entry is
// called, how long a caller has waited, the attempts left, paging by `after` —, the callback form's
// checks, and the call figures (接通率, 服务水平, answer times, 漏话回拨率) as cards.
import type { CallbackOutcome, CallStats, MissedCall, StatRates } from '../api/types'
import { percentText } from './stats'

export type MissedStatus = 'pending' | 'done'

export const MISSED_TABS: readonly { code: MissedStatus; label: string }[] = [
  { code: 'pending', label: '待回拨' },
  { code: 'done', label: '已处理' },
]

export function isMissedStatus(s: unknown): s is MissedStatus {
  return s === 'pending' || s === 'done'
}

/** The log's actions (GET /api/telephony/missed/{id}). */
export const MISSED_ACTION_LABELS: Record<string, string> = {
  missed: '漏接',
  called_in: '市民再次来电已接通',
  reached: '回拨接通',
  not_reached: '回拨未接通',
  unreachable: '多次未接通，结束回拨',
  invalid_number: '空号/错号',
}

export function missedActionLabel(action: string): string {
  return MISSED_ACTION_LABELS[action] ?? action
}

type Tone = 'success' | 'warning' | 'danger' | 'info' | 'primary'

/** How a settled item ended, in words and colour. */
export const MISSED_RESULTS: Record<string, { label: string; tag: Tone }> = {
  reached: { label: '回拨接通', tag: 'success' },
  called_in: { label: '再次来电已接通', tag: 'success' },
  unreachable: { label: '多次未接通', tag: 'warning' },
  invalid_number: { label: '空号/错号', tag: 'info' },
}

export function missedResultLabel(result: string | null | undefined): string {
  if (!result) return ''
  return MISSED_RESULTS[result]?.label ?? result
}

export function missedResultTag(result: string | null | undefined): Tone {
  return (result && MISSED_RESULTS[result]?.tag) || 'info'
}

/** Timeline dot colours of the log. */
export function missedActionTone(action: string): Tone {
  if (action === 'missed') return 'danger'
  if (action === 'not_reached') return 'warning'
  if (action === 'reached' || action === 'called_in') return 'success'
  return 'info'
}

/** What an agent records after calling back. */
export const CALLBACK_OUTCOMES: readonly { code: CallbackOutcome; label: string }[] = [
  { code: 'reached', label: '回拨接通' },
  { code: 'not_reached', label: '未接通' },
  { code: 'invalid_number', label: '空号/错号' },
]

/** `3天2小时`, `2小时05分`, `12分钟`, `不到1分钟`: a duration as people say it. */
export function durationText(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const days = Math.floor(total / 86400)
  const hours = Math.floor((total % 86400) / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  if (days > 0) return hours > 0 ? `${days}天${hours}小时` : `${days}天`
  if (hours > 0) return `${hours}小时${String(minutes).padStart(2, '0')}分`
  if (minutes > 0) return `${minutes}分钟`
  return '不到1分钟'
}

/** How long the caller has waited since the first missed call (until it was settled, when it is). */
export function waitedMs(item: Pick<MissedCall, 'first_at' | 'closed_at'>, now: number = Date.now()): number {
  const from = Date.parse(item.first_at)
  if (Number.isNaN(from)) return 0
  const end = item.closed_at ? Date.parse(item.closed_at) : now
  return Math.max(0, (Number.isNaN(end) ? now : end) - from)
}

/** `已等待 2小时05分` for a pending item; `历时 35分钟` once settled. */
export function waitingText(item: Pick<MissedCall, 'first_at' | 'closed_at'>, now: number = Date.now()): string {
  const d = durationText(waitedMs(item, now))
  return item.closed_at ? `历时 ${d}` : `已等待 ${d}`
}

/** A waiting caller's urgency: within 30 minutes normal, within 2 hours soon, longer late. */
export const WAIT_SOON_MS = 30 * 60_000
export const WAIT_LATE_MS = 2 * 3600_000

export function waitingLevel(ms: number): 'normal' | 'soon' | 'late' {
  if (ms >= WAIT_LATE_MS) return 'late'
  if (ms >= WAIT_SOON_MS) return 'soon'
  return 'normal'
}

/** `1/3`: the callback attempts that did not reach the caller, of those allowed. */
export function attemptsText(item: Pick<MissedCall, 'attempts' | 'max_attempts'>): string {
  return `${item.attempts}/${item.max_attempts}`
}

/** Whether recording one more unanswered callback closes the item (as 多次未接通). */
export function lastAttempt(item: Pick<MissedCall, 'attempts' | 'max_attempts'>): boolean {
  return item.attempts + 1 >= item.max_attempts
}

/** The `after` cursor for the next page: the last id of a full page, or null when there is no more. */
export function nextAfter(page: readonly { id: number }[], limit: number): number | null {
  return page.length >= limit && page.length > 0 ? page[page.length - 1].id : null
}

/** Adds a page to what is listed, without listing an item twice (one may move between pages). */
export function appendPage<T extends { id: number }>(items: readonly T[], page: readonly T[]): T[] {
  const seen = new Set(items.map((i) => i.id))
  return [...items, ...page.filter((i) => !seen.has(i.id))]
}

/** The order an agent names when recording a callback: its id (digits) or its number (`2026-11-24-000123`). */
export type OrderRef = { id: number } | { number: string }

/** Reads the order field: empty → null; digits → an id; an order number → the number; else an error. */
export function parseOrderRef(text: string): OrderRef | null | { error: string } {
  const t = text.trim()
  if (!t) return null
  if (/^\d{1,15}$/.test(t)) {
    const id = Number(t)
    return id > 0 ? { id } : { error: '工单 ID 无效' }
  }
  if (/^\d{4}-\d{2}-\d{2}-\d{1,12}$/.test(t)) return { number: t }
  return { error: '请填写工单编号（如 2026-11-24-000123）或工单 ID' }
}

/** The callback form before it is sent; the server checks the rest (422 on the field). */
export function checkCallback(f: { outcome: string; note: string; order: string }): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!CALLBACK_OUTCOMES.some((o) => o.code === f.outcome)) out.outcome = '请选择回拨结果'
  if ([...f.note.trim()].length > 500) out.note = '说明不能超过 500 个字'
  const ref = parseOrderRef(f.order)
  if (ref && 'error' in ref) out.order_id = ref.error
  else if (ref && f.outcome !== 'reached') out.order_id = '只有回拨接通时才能关联工单'
  return Object.keys(out).length ? out : null
}

// ---- call figures ----

/** `8.5 秒`, `1分05秒`, `—`: seconds as people read them. */
export function secondsText(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—'
  if (s < 60) return `${(Math.round(s * 10) / 10).toFixed(1)} 秒`
  const whole = Math.round(s)
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const sec = whole % 60
  if (h > 0) return `${h}小时${String(m).padStart(2, '0')}分`
  return `${m}分${String(sec).padStart(2, '0')}秒`
}

export interface CallTerm {
  label: string
  count: number
}

export interface CallCard {
  key: 'connect_rate' | 'service_level' | 'avg_answer_s' | 'recovery_rate'
  label: string
  text: string
  /** `接通率 = 接通数 / (接通数 + 放弃数)`. */
  formula: string
  terms: CallTerm[]
  /** Why there is no figure, when there is none. */
  empty: string | null
}

const absent = (v: number | null | undefined) => v === null || v === undefined || !Number.isFinite(v)

/** The four headline figures of the call centre, each with its formula and counts. */
export function callCards(s: CallStats): CallCard[] {
  const settled: CallTerm[] = [
    { label: '接通数', count: s.answered },
    { label: '放弃数', count: s.abandoned },
  ]
  return [
    {
      key: 'connect_rate',
      label: '接通率',
      text: percentText(s.connect_rate),
      formula: '接通率 = 接通数 / (接通数 + 放弃数)',
      terms: settled,
      empty: absent(s.connect_rate) ? '暂无来电' : null,
    },
    {
      key: 'service_level',
      label: '服务水平',
      text: percentText(s.service_level),
      formula: `服务水平 = ${s.service_level_s} 秒内接通数 / (接通数 + 放弃数)`,
      terms: settled,
      empty: absent(s.service_level) ? '暂无来电' : null,
    },
    {
      key: 'avg_answer_s',
      label: '平均应答时长',
      text: secondsText(s.avg_answer_s),
      formula: '平均应答时长 = 接通来电从振铃到接听的平均时长',
      terms: [{ label: '接通数', count: s.answered }],
      empty: absent(s.avg_answer_s) ? '暂无接通' : null,
    },
    {
      key: 'recovery_rate',
      label: '漏话回拨率',
      text: percentText(s.missed.recovery_rate),
      formula: '漏话回拨率 = (回拨接通数 + 再次来电接通数) / 漏话数',
      terms: [
        { label: '回拨接通数', count: s.missed.reached },
        { label: '再次来电接通数', count: s.missed.called_in },
        { label: '漏话数', count: s.missed.items },
      ],
      empty: absent(s.missed.recovery_rate) ? '暂无漏话' : null,
    },
  ]
}

/** The other call figures, as label and text. */
export function callFigures(s: CallStats): { key: string; label: string; text: string }[] {
  const n = (v: number) => v.toLocaleString('zh-CN')
  return [
    { key: 'offered', label: '呼入量', text: n(s.offered) },
    { key: 'answered', label: '接通数', text: n(s.answered) },
    { key: 'abandoned', label: '放弃数', text: n(s.abandoned) },
    { key: 'waiting', label: '排队中', text: n(s.waiting) },
    { key: 'max_wait_s', label: '最长等待', text: secondsText(s.max_wait_s) },
    { key: 'avg_abandon_s', label: '平均放弃前等待', text: secondsText(s.avg_abandon_s) },
    { key: 'avg_talk_s', label: '平均通话时长', text: secondsText(s.avg_talk_s) },
  ]
}

/** The missed-call queue's outcome for the period, in the order it is read. */
export function missedFigures(s: CallStats): { key: string; label: string; count: number }[] {
  const m = s.missed
  return [
    { key: 'items', label: '漏话数', count: m.items },
    { key: 'pending', label: '待回拨', count: m.pending },
    { key: 'reached', label: '回拨接通', count: m.reached },
    { key: 'called_in', label: '再次来电接通', count: m.called_in },
    { key: 'unreachable', label: '多次未接通', count: m.unreachable },
    { key: 'invalid_number', label: '空号/错号', count: m.invalid_number },
  ]
}

/** 接通率 beside the seven rates: only when the server gives one (the whole centre, calls reported). */
export function connectCard(r: Pick<StatRates, 'connect_rate' | 'calls'>): { text: string; formula: string; terms: CallTerm[] } | null {
  if (absent(r.connect_rate)) return null
  const c = r.calls
  return {
    text: percentText(r.connect_rate),
    formula: '接通率 = 接通数 / (接通数 + 放弃数)',
    terms: c
      ? [
          { label: '接通数', count: c.answered },
          { label: '放弃数', count: c.abandoned },
          { label: '呼入量', count: c.offered },
        ]
      : [],
  }
}
