// The centre's figures (统计考核) as text: periods (quick picks in China time), the seven rates
// with their formulas in words and the counts behind them, the ranking's scores and chart, and
// the formulas ⇄ the settings form.
import type { Deductions, FormulaPreset, RankedUnit, StatCounts, StatFormulas, StatMeasure, StatRates } from '../api/types'
import { todayCst } from './time'

// ---- periods ----

export type PeriodPick = 'month' | 'last_month' | 'year' | 'custom'

export const PERIOD_PICKS: readonly { code: PeriodPick; label: string }[] = [
  { code: 'month', label: '本月' },
  { code: 'last_month', label: '上月' },
  { code: 'year', label: '本年' },
  { code: 'custom', label: '自定义' },
]

/** Both days `YYYY-MM-DD` (China time), `to` included. */
export interface Period {
  from: string
  to: string
}

/** The longest period the server accepts (`to - from` in days). */
export const MAX_PERIOD_DAYS = 366

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

const pad = (n: number) => String(n).padStart(2, '0')

function ymd(y: number, m: number, d: number): string {
  // Through Date.UTC so that months and days roll over (month 0 → December of the year before).
  const t = new Date(Date.UTC(y, m - 1, d))
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`
}

/** The days of a quick pick, as of `now` in China: 本月 and 本年 up to today, 上月 whole. */
export function periodOf(pick: Exclude<PeriodPick, 'custom'>, now: Date = new Date()): Period {
  const today = todayCst(now)
  const [y, m] = today.split('-').map(Number)
  switch (pick) {
    case 'month':
      return { from: ymd(y, m, 1), to: today }
    case 'last_month':
      return { from: ymd(y, m - 1, 1), to: ymd(y, m, 0) }
    case 'year':
      return { from: ymd(y, 1, 1), to: today }
  }
}

/** The quick pick a period is (as of `now`), or `custom`. */
export function pickOf(p: Period, now: Date = new Date()): PeriodPick {
  for (const pick of ['month', 'last_month', 'year'] as const) {
    const q = periodOf(pick, now)
    if (q.from === p.from && q.to === p.to) return pick
  }
  return 'custom'
}

export function isDay(s: unknown): s is string {
  if (typeof s !== 'string') return false
  const m = DAY.exec(s)
  if (!m) return false
  return ymd(Number(m[1]), Number(m[2]), Number(m[3])) === s
}

/** Days from `from` to `to` (0 for the same day). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000)
}

/** Why a period cannot be asked for, or null. */
export function checkPeriod(p: Period): string | null {
  if (!isDay(p.from) || !isDay(p.to)) return '请选择统计期间'
  if (p.to < p.from) return '结束日期不能早于开始日期'
  if (daysBetween(p.from, p.to) > MAX_PERIOD_DAYS) return `统计期间至多 ${MAX_PERIOD_DAYS} 天`
  return null
}

/** `2026-11-01 至 2026-11-30` (one day: just the day). */
export function periodText(p: Period): string {
  return p.from === p.to ? p.from : `${p.from} 至 ${p.to}`
}

/** The period of a page's query string (`from`, `to` or `pick`); this month by default. */
export function periodFromQuery(q: Record<string, unknown>, now: Date = new Date()): Period & { pick: PeriodPick } {
  if (isDay(q.from) && isDay(q.to) && !checkPeriod({ from: q.from, to: q.to })) {
    const p = { from: q.from, to: q.to }
    return { ...p, pick: pickOf(p, now) }
  }
  const pick = PERIOD_PICKS.find((x) => x.code === q.pick && x.code !== 'custom')?.code as Exclude<PeriodPick, 'custom'> | undefined
  return { ...periodOf(pick ?? 'month', now), pick: pick ?? 'month' }
}

/** `2026-11` of `now` in China. */
export function monthOf(now: Date = new Date()): string {
  return todayCst(now).slice(0, 7)
}

/** The month before `now`'s (China time). */
export function lastMonthOf(now: Date = new Date()): string {
  const [y, m] = todayCst(now).split('-').map(Number)
  return ymd(y, m - 1, 1).slice(0, 7)
}

export function isMonth(s: unknown): s is string {
  return typeof s === 'string' && /^\d{4}-(0[1-9]|1[0-2])$/.test(s)
}

/** `2026年11月`. */
export function monthText(month: string): string {
  if (!isMonth(month)) return month
  return `${month.slice(0, 4)}年${Number(month.slice(5))}月`
}

/** The days of a month `YYYY-MM`. */
export function monthPeriod(month: string): Period {
  const [y, m] = month.split('-').map(Number)
  return { from: ymd(y, m, 1), to: ymd(y, m + 1, 0) }
}

// ---- rates ----

/** What each count is called (the drawer's title, the counts strip). */
export const MEASURE_LABELS: Record<StatMeasure, string> = {
  accepted: '受理数',
  instant: '即答办结数',
  dispatched: '派单数',
  signed_on_time: '按时签收数',
  completed: '办结数',
  completed_on_time: '按期办结数',
  callback_due: '应回访数',
  callback_done: '回访办结数',
  called_back: '回访数',
  satisfied: '满意数',
  basically_satisfied: '基本满意数',
  dissatisfied: '不满意数',
  resolved: '已解决数',
  rehandled: '重办数',
  late: '逾期数',
  escalated: '转督办数',
}

/** Every count, in the order the counts strip lists them. */
export const MEASURES: readonly StatMeasure[] = Object.keys(MEASURE_LABELS) as StatMeasure[]

export function isMeasure(s: unknown): s is StatMeasure {
  return typeof s === 'string' && (MEASURES as readonly string[]).includes(s)
}

export type RateKey =
  | 'response_rate'
  | 'completion_rate'
  | 'on_time_rate'
  | 'resolution_rate'
  | 'satisfaction_rate'
  | 'instant_answer_rate'
  | 'callback_rate'

interface RateDef {
  key: RateKey
  label: string
  /** The numerator's counts (the satisfaction rate has two). */
  num: readonly StatMeasure[]
  den: StatMeasure
  /** What a missing rate means. */
  empty: string
}

export const RATE_DEFS: readonly RateDef[] = [
  { key: 'response_rate', label: '响应率', num: ['signed_on_time'], den: 'dispatched', empty: '暂无派单' },
  { key: 'completion_rate', label: '办结率', num: ['completed'], den: 'dispatched', empty: '暂无派单' },
  { key: 'on_time_rate', label: '按期办结率', num: ['completed_on_time'], den: 'completed', empty: '暂无办结' },
  { key: 'resolution_rate', label: '解决率', num: ['resolved'], den: 'called_back', empty: '暂无回访' },
  { key: 'satisfaction_rate', label: '满意率', num: ['satisfied', 'basically_satisfied'], den: 'called_back', empty: '暂无回访' },
  { key: 'instant_answer_rate', label: '即答率', num: ['instant'], den: 'accepted', empty: '暂无受理' },
  { key: 'callback_rate', label: '回访率', num: ['callback_done'], den: 'callback_due', empty: '暂无应回访工单' },
]

/** `98.47%` for a fraction 0–1 (two decimals); `—` for none. */
export function percentText(rate: number | null | undefined, digits = 2): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—'
  const f = 10 ** digits
  return `${(Math.round(rate * 100 * f) / f).toFixed(digits)}%`
}

/** A weight as written: `0.35`, `1`, `0.9` (at most four decimals, no trailing zeros). */
export function weightText(w: number): string {
  if (!Number.isFinite(w)) return '—'
  return String(Math.round(w * 10_000) / 10_000)
}

/** `（满意数 + 0.9 × 基本满意数）/ 回访数`: a weight of 1 is not written. */
function satisfactionWords(weight: number, short = false): string {
  const s = short ? '满意' : MEASURE_LABELS.satisfied
  const b = short ? '基本满意' : MEASURE_LABELS.basically_satisfied
  const w = weightText(weight)
  return `（${s} + ${w === '1' ? '' : `${w} × `}${b}）/ ${MEASURE_LABELS.called_back}`
}

/** A rate's formula in words, e.g. `按时签收数 / 派单数`. */
export function formulaWords(key: RateKey, formulas?: Pick<StatFormulas, 'basically_satisfied_weight'>): string {
  const def = RATE_DEFS.find((d) => d.key === key)!
  if (key === 'satisfaction_rate') return satisfactionWords(formulas?.basically_satisfied_weight ?? 1)
  return `${MEASURE_LABELS[def.num[0]]} / ${MEASURE_LABELS[def.den]}`
}

export interface RateTerm {
  measure: StatMeasure
  label: string
  count: number
  /** The weight a count has in the numerator (the basically satisfied); 1 otherwise. */
  weight: number
}

export interface RateCard {
  key: RateKey
  label: string
  value: number | null
  /** `98.47%` or `—`. */
  text: string
  formula: string
  num: RateTerm[]
  den: RateTerm
  /** Why there is no rate (`暂无回访`), when there is none. */
  empty: string | null
}

/** The seven rates of a report, each with its formula and counts. */
export function rateCards(r: Pick<StatRates, RateKey | 'counts' | 'formulas'>): RateCard[] {
  const w = r.formulas?.basically_satisfied_weight ?? 1
  const term = (m: StatMeasure, weight = 1): RateTerm => ({ measure: m, label: MEASURE_LABELS[m], count: r.counts[m] ?? 0, weight })
  return RATE_DEFS.map((d) => {
    const value = r[d.key]
    return {
      key: d.key,
      label: d.label,
      value,
      text: percentText(value),
      formula: formulaWords(d.key, r.formulas),
      num: d.num.map((m) => term(m, m === 'basically_satisfied' ? w : 1)),
      den: term(d.den),
      empty: value === null || value === undefined ? d.empty : null,
    }
  })
}

/** The counts no rate card shows (still one click from their orders). */
export function otherCounts(counts: StatCounts): RateTerm[] {
  const shown = new Set<StatMeasure>(RATE_DEFS.flatMap((d) => [...d.num, d.den]))
  return MEASURES.filter((m) => !shown.has(m)).map((m) => ({ measure: m, label: MEASURE_LABELS[m], count: counts[m] ?? 0, weight: 1 }))
}

/**
 * The formulas stated like the presets: `满意率 =（满意 + 0.9 × 基本满意）/ 回访数；综合得分 = …`,
 * and the deductions when there are any.
 */
export function formulasText(f: Pick<StatFormulas, 'basically_satisfied_weight' | 'composite' | 'deductions'>): string {
  const base = `满意率 =${satisfactionWords(f.basically_satisfied_weight, true)}；${compositeText(f)}`
  return f.deductions ? `${base}；${deductionText(f.deductions)}` : base
}

/** `考核得分 = 综合得分 − 0.5 × 逾期件数 − 1 × 转督办件数`. */
export function deductionText(d: Deductions): string {
  return `考核得分 = 综合得分 − ${weightText(d.late)} × 逾期件数 − ${weightText(d.escalated)} × 转督办件数`
}

/** `综合得分 = 0.1 × 响应率 + 0.5 × 解决率 + 0.4 × 满意率`. */
export function compositeText(f: Pick<StatFormulas, 'composite'>): string {
  const c = f.composite
  return `综合得分 = ${weightText(c.response)} × 响应率 + ${weightText(c.resolution)} × 解决率 + ${weightText(c.satisfaction)} × 满意率`
}

// ---- ranking ----

export const RANKING_KINDS: readonly { code: string; label: string }[] = [
  { code: 'department', label: '职能部门' },
  { code: 'town', label: '乡镇街道' },
  { code: 'district_centre', label: '区县中心' },
]

export function isRankingKind(s: unknown): s is string {
  return typeof s === 'string' && RANKING_KINDS.some((k) => k.code === s)
}

/** `95.32` (two decimals) or `—`. */
export function scoreText(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return '—'
  return (Math.round(score * 100) / 100).toFixed(2)
}

/** What ranks a unit: its evaluation (考核得分) where the server gives one, else its composite score. */
export function rankingScore(u: Pick<RankedUnit, 'score' | 'evaluation'>): number | null {
  return u.evaluation !== undefined ? u.evaluation : u.score
}

export interface ScoreBars {
  /** Best first. */
  labels: string[]
  values: number[]
  /** The units' ids (names may repeat: two communities of one name). */
  ids: number[]
}

/** The best `n` scored units (unscored ones are left out), best first. */
export function topScores(items: readonly Pick<RankedUnit, 'unit_id' | 'unit_name' | 'score' | 'evaluation'>[], n = 10): ScoreBars {
  const scored = items
    .map((i) => ({ i, s: rankingScore(i) }))
    .filter((x): x is { i: (typeof items)[number]; s: number } => typeof x.s === 'number' && Number.isFinite(x.s))
    .sort((a, b) => b.s - a.s)
    .slice(0, n)
  return {
    labels: scored.map((x) => x.i.unit_name),
    values: scored.map((x) => Math.round(x.s * 100) / 100),
    ids: scored.map((x) => x.i.unit_id),
  }
}

// ---- formulas ⇄ the settings form ----

export interface FormulaForm {
  basically_satisfied_weight: number
  response: number
  resolution: number
  satisfaction: number
  /** Points off per late order (逾期). */
  late: number
  /** Points off per escalated order (转督办). */
  escalated: number
}

/** The server's defaults for the deductions. */
export const DEFAULT_DEDUCTIONS: Deductions = { late: 0.5, escalated: 1 }

export const MAX_DEDUCTION = 100

export function formulasToForm(f: Pick<StatFormulas, 'basically_satisfied_weight' | 'composite' | 'deductions'>): FormulaForm {
  const d = f.deductions ?? DEFAULT_DEDUCTIONS
  return {
    basically_satisfied_weight: f.basically_satisfied_weight,
    response: f.composite.response,
    resolution: f.composite.resolution,
    satisfaction: f.composite.satisfaction,
    late: d.late,
    escalated: d.escalated,
  }
}

/** The body of `PUT /api/stats/formulas`; whatever else `base` has (later settings) is kept. */
export function formToFormulas(form: FormulaForm, base: Partial<StatFormulas> = {}): StatFormulas {
  return {
    ...base,
    basically_satisfied_weight: form.basically_satisfied_weight,
    composite: { response: form.response, resolution: form.resolution, satisfaction: form.satisfaction },
    deductions: { late: form.late, escalated: form.escalated },
  }
}

/** The three weights added up (rounded to hide float noise). */
export function weightSum(form: Pick<FormulaForm, 'response' | 'resolution' | 'satisfaction'>): number {
  return Math.round((form.response + form.resolution + form.satisfaction) * 1e6) / 1e6
}

const inUnit = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1

export type FormulaField = 'basically_satisfied_weight' | 'composite' | 'deductions'

/** The first problem of the form as the server would name it (`deductions`, `basically_satisfied_weight`, `composite`). */
export function checkFormulas(form: FormulaForm): { field: FormulaField; message: string } | null {
  const points = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= MAX_DEDUCTION
  if (!points(form.late) || !points(form.escalated)) {
    return { field: 'deductions', message: `扣分须在 0 至 ${MAX_DEDUCTION} 分之间` }
  }
  if (!inUnit(form.basically_satisfied_weight)) {
    return { field: 'basically_satisfied_weight', message: '基本满意的权重须在 0 至 1 之间' }
  }
  if (![form.response, form.resolution, form.satisfaction].every(inUnit)) {
    return { field: 'composite', message: '综合得分的权重须在 0 至 1 之间' }
  }
  if (Math.abs(weightSum(form) - 1) > 1e-6) {
    return { field: 'composite', message: `综合得分的权重合计须为 1（现为 ${weightText(weightSum(form))}）` }
  }
  return null
}

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9

/** The preset these formulas are, if any. */
export function presetOf(f: FormulaForm, presets: readonly FormulaPreset[]): FormulaPreset | null {
  return (
    presets.find((p) => {
      const q = formulasToForm(p.formulas)
      return (
        near(q.basically_satisfied_weight, f.basically_satisfied_weight) &&
        near(q.response, f.response) &&
        near(q.resolution, f.resolution) &&
        near(q.satisfaction, f.satisfaction) &&
        near(q.late, f.late) &&
        near(q.escalated, f.escalated)
      )
    }) ?? null
  )
}

export const PRESET_NAMES: Record<string, string> = {
  standard: '标准',
  strict: '从严',
  ordos: '鄂尔多斯',
}

export function presetName(name: string): string {
  return PRESET_NAMES[name] ?? name
}
