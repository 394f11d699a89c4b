// Times are shown in China Standard Time (UTC+8, no daylight saving) whatever the browser's zone.

const CST_OFFSET_MS = 8 * 3600 * 1000

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

function cstParts(d: Date) {
  const t = new Date(d.getTime() + CST_OFFSET_MS)
  return {
    y: t.getUTCFullYear(),
    m: t.getUTCMonth() + 1,
    d: t.getUTCDate(),
    h: t.getUTCHours(),
    min: t.getUTCMinutes(),
    s: t.getUTCSeconds(),
  }
}

/** `2026-11-25 08:09` (or with seconds). Empty for null or an unparsable value. */
export function formatCst(value: string | number | Date | null | undefined, seconds = false): string {
  if (value === null || value === undefined || value === '') return ''
  const d = value instanceof Date ? value : new Date(value)
  if (Number.isNaN(d.getTime())) return ''
  const p = cstParts(d)
  const base = `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.h)}:${pad(p.min)}`
  return seconds ? `${base}:${pad(p.s)}` : base
}

/** `11-25 08:09`: short, for tables. */
export function formatCstShort(value: string | null | undefined): string {
  const f = formatCst(value)
  return f ? f.slice(5) : ''
}

/** Today's date in China, `YYYY-MM-DD`. */
export function todayCst(now: Date = new Date()): string {
  const p = cstParts(now)
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`
}

export type Urgency = 'overdue' | 'critical' | 'soon' | 'normal'

/** How pressing a deadline is, from the milliseconds left. */
export function urgencyOf(msLeft: number): Urgency {
  if (msLeft < 0) return 'overdue'
  if (msLeft < 2 * 3600_000) return 'critical'
  if (msLeft < 24 * 3600_000) return 'soon'
  return 'normal'
}

/**
 * The remaining time as people say it: `剩余 2天3小时`, `剩余 3小时05分`, `剩余 12分30秒`,
 * and once passed `已超时 1天2小时`.
 */
export function formatRemaining(msLeft: number): string {
  const late = msLeft < 0
  const total = Math.floor(Math.abs(msLeft) / 1000)
  const days = Math.floor(total / 86400)
  const hours = Math.floor((total % 86400) / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const secs = total % 60
  let body: string
  if (days > 0) body = hours > 0 ? `${days}天${hours}小时` : `${days}天`
  else if (hours > 0) body = `${hours}小时${pad(minutes)}分`
  else if (minutes > 0) body = `${minutes}分${pad(secs)}秒`
  else body = `${secs}秒`
  return late ? `已超时 ${body}` : `剩余 ${body}`
}

/** How often a countdown needs to repaint: every second in the last hour, otherwise every 30 s. */
export function tickInterval(msLeft: number): number {
  return Math.abs(msLeft) < 3600_000 ? 1000 : 30_000
}

/** Relative age for lists of notices: `刚刚`, `5分钟前`, `3小时前`, `2天前`. */
export function formatAgo(value: string, now: number = Date.now()): string {
  const t = new Date(value).getTime()
  if (Number.isNaN(t)) return ''
  const s = Math.max(0, Math.floor((now - t) / 1000))
  if (s < 60) return '刚刚'
  if (s < 3600) return `${Math.floor(s / 60)}分钟前`
  if (s < 86400) return `${Math.floor(s / 3600)}小时前`
  return `${Math.floor(s / 86400)}天前`
}
