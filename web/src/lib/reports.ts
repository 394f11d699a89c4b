// Reports (报表): 日报, 周报 and 月报 of any period as workbooks, and those the server keeps.
import type { ReportKind } from '../api/types'

export const REPORT_KINDS: readonly { code: ReportKind; label: string }[] = [
  { code: 'daily', label: '日报' },
  { code: 'weekly', label: '周报' },
  { code: 'monthly', label: '月报' },
]

export function reportKindLabel(kind: string): string {
  return REPORT_KINDS.find((k) => k.code === kind)?.label ?? kind
}

export function isReportKind(s: unknown): s is ReportKind {
  return typeof s === 'string' && REPORT_KINDS.some((k) => k.code === s)
}

const pad = (n: number) => String(n).padStart(2, '0')
const iso = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`

function parseDay(day: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!m) return null
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  return iso(d) === day ? d : null
}

/** The Monday of the (Monday-to-Sunday) week of a day. */
export function mondayOf(day: string): string {
  const d = parseDay(day)
  if (!d) return day
  const back = (d.getUTCDay() + 6) % 7
  d.setUTCDate(d.getUTCDate() - back)
  return iso(d)
}

/** The Sunday six days after a Monday. */
export function sundayAfter(monday: string): string {
  const d = parseDay(monday)
  if (!d) return monday
  d.setUTCDate(d.getUTCDate() + 6)
  return iso(d)
}

/** What a report covers: `2026-03-05`, `2026-03-02 至 2026-03-08`, `2026年3月`. */
export function reportPeriodText(kind: string, key: string): string {
  if (kind === 'weekly') {
    const mon = mondayOf(key)
    return `${mon} 至 ${sundayAfter(mon)}`
  }
  if (kind === 'monthly' && /^\d{4}-\d{2}$/.test(key)) return `${key.slice(0, 4)}年${Number(key.slice(5))}月`
  return key
}

export type ReportFormat = 'xlsx' | 'pdf'

/**
 * The on-demand report of a period (the day or any day of the week, or the month `YYYY-MM`): a
 * workbook, or with `pdf` the printable document.
 */
export function reportUrl(kind: ReportKind, key: string, format: ReportFormat = 'xlsx'): string {
  const q = kind === 'monthly' ? `month=${encodeURIComponent(key)}` : `date=${encodeURIComponent(key)}`
  return `/api/reports/${kind}?${q}${format === 'pdf' ? '&format=pdf' : ''}`
}

/** A kept report's workbook. */
export function keptReportUrl(kind: string, name: string): string {
  return `/api/reports/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`
}

/** The file name the download gets when the server gives none. */
export function reportFilename(kind: string, key: string, format: ReportFormat = 'xlsx'): string {
  const name = kind === 'weekly' ? mondayOf(key) : key
  return `${name}${reportKindLabel(kind)}.${format}`
}
