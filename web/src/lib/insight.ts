// Insight (研判分析) as text and chart series: hot-spot rankings and growth, warning levels and
// ratios, seasonal trends, the suggestion's accuracy, repeat and duplicate orders.
import type { Coded, DayAccuracy, InsightSettings, RepeatRef, TrendPoint, WarningLevel } from '../api/types'

export type HotspotRank = 'heat' | 'size' | 'growth' | 'reach'

export const HOTSPOT_RANKS: readonly { code: HotspotRank; label: string; hint: string }[] = [
  { code: 'heat', label: '综合', hint: '规模、近期增长与覆盖人数综合排序' },
  { code: 'size', label: '规模', hint: '按诉求件数排序' },
  { code: 'growth', label: '增长', hint: '近 7 天比前 7 天增加最多的排前' },
  { code: 'reach', label: '覆盖人数', hint: '按不同来电人数排序' },
]

export function isHotspotRank(v: unknown): v is HotspotRank {
  return typeof v === 'string' && HOTSPOT_RANKS.some((r) => r.code === v)
}

export type Trend = 'up' | 'down' | 'flat' | 'new'

export interface Growth {
  trend: Trend
  /** `+150%`, `-40%`, `持平`, `新出现`. */
  text: string
  /** `近7天 5 件 / 前7天 2 件`. */
  detail: string
}

/** The growth of the last 7 days over the 7 days before. */
export function growthOf(recent: number, previous: number): Growth {
  const detail = `近7天 ${recent} 件 / 前7天 ${previous} 件`
  if (previous === 0) {
    if (recent === 0) return { trend: 'flat', text: '持平', detail }
    return { trend: 'new', text: '新出现', detail }
  }
  if (recent === previous) return { trend: 'flat', text: '持平', detail }
  const pct = Math.round(((recent - previous) / previous) * 100)
  return { trend: recent > previous ? 'up' : 'down', text: `${pct > 0 ? '+' : ''}${pct}%`, detail }
}

export const TREND_ARROWS: Record<Trend, string> = { up: '↑', down: '↓', flat: '→', new: '↑' }

/** `3.2 倍` (one decimal below 10, whole above). */
export function ratioText(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—'
  return ratio >= 10 ? `${Math.round(ratio)} 倍` : `${(Math.round(ratio * 10) / 10).toFixed(1)} 倍`
}

/** A mean per day: `2.4` (one decimal), `0` for nothing. */
export function perDay(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  if (x === 0) return '0'
  return x >= 10 ? String(Math.round(x)) : (Math.round(x * 10) / 10).toFixed(1)
}

export const LEVEL_LABELS: Record<WarningLevel, string> = { red: '红色预警', yellow: '黄色预警' }

export function levelTag(level: WarningLevel): 'danger' | 'warning' {
  return level === 'red' ? 'danger' : 'warning'
}

/** How this day compares with the same season a year earlier. */
export function lastYearText(count: number, lastYear: number): string {
  if (!lastYear) return '去年同期无此类诉求'
  const r = count / lastYear
  return `去年同期日均 ${perDay(lastYear)} 件（当日为其 ${ratioText(r)}）`
}

/** Red before yellow, then the larger ratio, then the larger count. */
export function sortWarnings<T extends { level: WarningLevel; ratio: number; count: number }>(items: readonly T[]): T[] {
  const rank = (l: WarningLevel) => (l === 'red' ? 0 : 1)
  return [...items].sort((a, b) => rank(a.level) - rank(b.level) || b.ratio - a.ratio || b.count - a.count)
}

export interface TrendSeries {
  /** `1月` … (with the year where it changes: `2026年1月`). */
  labels: string[]
  thisYear: number[]
  lastYear: number[]
}

/** Months as axis labels, oldest first, the year shown on the first month and on each January. */
export function trendSeries(items: readonly TrendPoint[]): TrendSeries {
  const sorted = [...items].sort((a, b) => a.month.localeCompare(b.month))
  return {
    labels: sorted.map((p, i) => {
      const [y, m] = p.month.split('-')
      const month = Number(m)
      return i === 0 || month === 1 ? `${y}年${month}月` : `${month}月`
    }),
    thisYear: sorted.map((p) => p.count),
    lastYear: sorted.map((p) => p.last_year),
  }
}

/** `83.5%` for a share 0–1; `—` when there is nothing to share. */
export function rateText(rate: number | null | undefined, of = 1): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate) || of === 0) return '—'
  return `${(Math.round(rate * 1000) / 10).toFixed(1)}%`
}

export interface AccuracySeries {
  dates: string[]
  dispatches: number[]
  /** Percent per day; null on days without dispatches (a gap in the line). */
  category: (number | null)[]
  unit: (number | null)[]
  type: (number | null)[]
}

export function accuracySeries(items: readonly DayAccuracy[]): AccuracySeries {
  const sorted = [...items].sort((a, b) => a.date.localeCompare(b.date))
  const pct = (hits: number, n: number) => (n > 0 ? Math.round((hits / n) * 1000) / 10 : null)
  return {
    dates: sorted.map((d) => d.date.slice(5)),
    dispatches: sorted.map((d) => d.dispatches),
    category: sorted.map((d) => pct(d.category_hits, d.dispatches)),
    unit: sorted.map((d) => pct(d.unit_hits, d.dispatches)),
    type: sorted.map((d) => pct(d.type_hits, d.dispatches)),
  }
}

export const BASIS_LABELS: Record<RepeatRef['basis'], string> = { caller: '同一来电人', address: '同一地址' }

export function basisLabel(basis: string): string {
  return (BASIS_LABELS as Record<string, string>)[basis] ?? basis
}

/** `相似度 72%`. */
export function similarityText(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return ''
  return `相似度 ${Math.round(Math.min(1, Math.max(0, s)) * 100)}%`
}

/** A status that may come as `{code,label}` or as its bare code. */
export function codedStatus(s: Coded | string | null | undefined, statuses: readonly Coded[] = []): Coded | null {
  if (!s) return null
  if (typeof s !== 'string') return s
  return statuses.find((x) => x.code === s) ?? { code: s, label: s }
}

export const SETTINGS_LIMITS = {
  repeat_window_days: { min: 1, max: 365 },
  repeat_min_similarity: { min: 0, max: 1 },
  hotspot_window_days: { min: 7, max: 365 },
  warning_min_count: { min: 1, max: 10000 },
} as const

export const DEFAULT_SETTINGS: InsightSettings = {
  repeat_window_days: 30,
  repeat_min_similarity: 0.3,
  hotspot_window_days: 60,
  warning_min_count: 5,
}

/** The first setting out of range (its key and message), or null. */
export function checkSettings(s: InsightSettings): { field: keyof InsightSettings; message: string } | null {
  for (const [k, lim] of Object.entries(SETTINGS_LIMITS) as [keyof InsightSettings, { min: number; max: number }][]) {
    const v = s[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lim.min || v > lim.max) {
      return { field: k, message: `须在 ${lim.min} 至 ${lim.max} 之间` }
    }
    if (k !== 'repeat_min_similarity' && !Number.isInteger(v)) return { field: k, message: '须为整数' }
  }
  return null
}

/** The days a hot spot spans, first to last report (at least 1). */
export function spanDays(first: string | null | undefined, last: string | null | undefined): number {
  if (!first || !last) return 0
  const a = Date.parse(first)
  const b = Date.parse(last)
  if (Number.isNaN(a) || Number.isNaN(b)) return 0
  return Math.max(1, Math.round((b - a) / 86_400_000) + 1)
}
