import { describe, expect, it } from 'vitest'
import type { FormulaPreset, StatCounts, StatRates } from '../api/types'
import {
  checkFormulas,
  checkPeriod,
  compositeText,
  formToFormulas,
  formulasText,
  formulasToForm,
  formulaWords,
  isDay,
  lastMonthOf,
  monthOf,
  monthPeriod,
  monthText,
  otherCounts,
  percentText,
  periodFromQuery,
  periodOf,
  periodText,
  pickOf,
  presetOf,
  rateCards,
  rankingScore,
  scoreText,
  topScores,
  weightSum,
  weightText,
} from './stats'

// 2026-12-01 01:30 in China is still 30 November in UTC.
const EARLY_DEC = new Date('2026-11-30T17:30:00Z')
// 2026-03-15 12:00 in China.
const MID_MARCH = new Date('2026-03-15T04:00:00Z')
// 2026-01-01 00:10 in China: last month is December of the year before.
const NEW_YEAR = new Date('2025-12-31T16:10:00Z')

describe('period quick picks (China time)', () => {
  it('this month runs from the 1st to today in China, not in UTC', () => {
    expect(periodOf('month', EARLY_DEC)).toEqual({ from: '2026-12-01', to: '2026-12-01' })
    expect(periodOf('month', MID_MARCH)).toEqual({ from: '2026-03-01', to: '2026-03-15' })
  })
  it('last month is the whole month before, with its length and across the year', () => {
    expect(periodOf('last_month', EARLY_DEC)).toEqual({ from: '2026-11-01', to: '2026-11-30' })
    expect(periodOf('last_month', MID_MARCH)).toEqual({ from: '2026-02-01', to: '2026-02-28' })
    expect(periodOf('last_month', new Date('2024-03-10T00:00:00Z'))).toEqual({ from: '2024-02-01', to: '2024-02-29' })
    expect(periodOf('last_month', NEW_YEAR)).toEqual({ from: '2025-12-01', to: '2025-12-31' })
  })
  it('this year runs from 1 January to today', () => {
    expect(periodOf('year', EARLY_DEC)).toEqual({ from: '2026-01-01', to: '2026-12-01' })
    expect(periodOf('year', NEW_YEAR)).toEqual({ from: '2026-01-01', to: '2026-01-01' })
  })
  it('recognises a quick pick from its days, else custom', () => {
    expect(pickOf({ from: '2026-11-01', to: '2026-11-30' }, EARLY_DEC)).toBe('last_month')
    expect(pickOf({ from: '2026-12-01', to: '2026-12-01' }, EARLY_DEC)).toBe('month')
    expect(pickOf({ from: '2026-03-01', to: '2026-03-15' }, MID_MARCH)).toBe('month')
    expect(pickOf({ from: '2026-01-01', to: '2026-03-15' }, MID_MARCH)).toBe('year')
    expect(pickOf({ from: '2026-02-03', to: '2026-03-15' }, MID_MARCH)).toBe('custom')
  })
  it('reads a period from the query string, this month by default', () => {
    expect(periodFromQuery({}, MID_MARCH)).toEqual({ from: '2026-03-01', to: '2026-03-15', pick: 'month' })
    expect(periodFromQuery({ pick: 'year' }, MID_MARCH)).toEqual({ from: '2026-01-01', to: '2026-03-15', pick: 'year' })
    expect(periodFromQuery({ from: '2026-02-03', to: '2026-02-10' }, MID_MARCH)).toEqual({ from: '2026-02-03', to: '2026-02-10', pick: 'custom' })
    expect(periodFromQuery({ from: '2026-02-01', to: '2026-02-28' }, MID_MARCH).pick).toBe('last_month')
    // Bad or reversed days fall back.
    expect(periodFromQuery({ from: '2026-02-30', to: '2026-03-01' }, MID_MARCH).pick).toBe('month')
    expect(periodFromQuery({ from: '2026-03-10', to: '2026-03-01' }, MID_MARCH).pick).toBe('month')
    expect(periodFromQuery({ pick: 'custom' }, MID_MARCH).pick).toBe('month')
  })
  it('checks days, order and the 366-day limit', () => {
    expect(isDay('2026-02-29')).toBe(false)
    expect(isDay('2024-02-29')).toBe(true)
    expect(checkPeriod({ from: '2026-01-01', to: '2026-12-31' })).toBeNull()
    expect(checkPeriod({ from: '2024-01-01', to: '2025-01-01' })).toBeNull() // 366 days
    expect(checkPeriod({ from: '2024-01-01', to: '2025-01-02' })).toBe('统计期间至多 366 天')
    expect(checkPeriod({ from: '2026-03-02', to: '2026-03-01' })).toBe('结束日期不能早于开始日期')
    expect(checkPeriod({ from: '', to: '2026-03-01' })).toBe('请选择统计期间')
  })
  it('writes periods and months', () => {
    expect(periodText({ from: '2026-11-01', to: '2026-11-30' })).toBe('2026-11-01 至 2026-11-30')
    expect(periodText({ from: '2026-12-01', to: '2026-12-01' })).toBe('2026-12-01')
    expect(monthOf(EARLY_DEC)).toBe('2026-12')
    expect(lastMonthOf(EARLY_DEC)).toBe('2026-11')
    expect(lastMonthOf(NEW_YEAR)).toBe('2025-12')
    expect(monthText('2026-03')).toBe('2026年3月')
    expect(monthPeriod('2026-02')).toEqual({ from: '2026-02-01', to: '2026-02-28' })
    expect(monthPeriod('2026-12')).toEqual({ from: '2026-12-01', to: '2026-12-31' })
  })
})

const COUNTS: StatCounts = {
  accepted: 214,
  instant: 52,
  dispatched: 147,
  signed_on_time: 99,
  completed: 107,
  completed_on_time: 101,
  callback_due: 93,
  callback_done: 93,
  called_back: 94,
  satisfied: 71,
  basically_satisfied: 22,
  dissatisfied: 1,
  resolved: 93,
  rehandled: 15,
  late: 40,
  escalated: 2,
}

const RATES: StatRates = {
  from: '2026-11-01',
  to: '2026-11-30',
  unit_id: null,
  unit_name: null,
  response_rate: 0.6735,
  completion_rate: 0.7279,
  on_time_rate: 0.9439,
  resolution_rate: 0.9894,
  satisfaction_rate: 0.9681,
  instant_answer_rate: 0.243,
  callback_rate: null,
  counts: COUNTS,
  formulas: { basically_satisfied_weight: 0.9, composite: { response: 0.1, resolution: 0.5, satisfaction: 0.4 } },
}

describe('rates', () => {
  it('formats fractions as percentages with two decimals, none as —', () => {
    expect(percentText(0.9847)).toBe('98.47%')
    expect(percentText(1)).toBe('100.00%')
    expect(percentText(0)).toBe('0.00%')
    expect(percentText(0.243)).toBe('24.30%')
    expect(percentText(0.98466, 1)).toBe('98.5%')
    expect(percentText(null)).toBe('—')
    expect(percentText(undefined)).toBe('—')
    expect(percentText(Number.NaN)).toBe('—')
  })
  it('gives the seven rates in order with their formulas and counts', () => {
    const cards = rateCards(RATES)
    expect(cards.map((c) => c.label)).toEqual(['响应率', '办结率', '按期办结率', '解决率', '满意率', '即答率', '回访率'])
    const response = cards[0]
    expect(response.text).toBe('67.35%')
    expect(response.formula).toBe('按时签收数 / 派单数')
    expect(response.num).toEqual([{ measure: 'signed_on_time', label: '按时签收数', count: 99, weight: 1 }])
    expect(response.den).toEqual({ measure: 'dispatched', label: '派单数', count: 147, weight: 1 })
    expect(response.empty).toBeNull()
    const sat = cards.find((c) => c.key === 'satisfaction_rate')!
    expect(sat.formula).toBe('（满意数 + 0.9 × 基本满意数）/ 回访数')
    expect(sat.num.map((t) => [t.measure, t.count, t.weight])).toEqual([
      ['satisfied', 71, 1],
      ['basically_satisfied', 22, 0.9],
    ])
    expect(sat.den.measure).toBe('called_back')
    expect(cards.find((c) => c.key === 'instant_answer_rate')!.formula).toBe('即答办结数 / 受理数')
    expect(cards.find((c) => c.key === 'callback_rate')!.formula).toBe('回访办结数 / 应回访数')
  })
  it('says why a rate is missing', () => {
    const cards = rateCards({ ...RATES, resolution_rate: null, satisfaction_rate: null })
    expect(cards.find((c) => c.key === 'resolution_rate')).toMatchObject({ text: '—', empty: '暂无回访' })
    expect(cards.find((c) => c.key === 'satisfaction_rate')).toMatchObject({ text: '—', empty: '暂无回访' })
    expect(cards.find((c) => c.key === 'callback_rate')!.empty).toBe('暂无应回访工单')
  })
  it('does not write a weight of 1', () => {
    expect(formulaWords('satisfaction_rate', { basically_satisfied_weight: 1 })).toBe('（满意数 + 基本满意数）/ 回访数')
    expect(formulaWords('on_time_rate')).toBe('按期办结数 / 办结数')
  })
  it('lists the counts no card shows', () => {
    expect(otherCounts(COUNTS).map((t) => [t.label, t.count])).toEqual([
      ['不满意数', 1],
      ['重办数', 15],
      ['逾期数', 40],
      ['转督办数', 2],
    ])
  })
  it('states the formulas like the presets do', () => {
    expect(formulasText({ basically_satisfied_weight: 1, composite: { response: 0.1, resolution: 0.5, satisfaction: 0.4 } })).toBe(
      '满意率 =（满意 + 基本满意）/ 回访数；综合得分 = 0.1 × 响应率 + 0.5 × 解决率 + 0.4 × 满意率',
    )
    expect(compositeText({ composite: { response: 0.3, resolution: 0.35, satisfaction: 0.35 } })).toBe(
      '综合得分 = 0.3 × 响应率 + 0.35 × 解决率 + 0.35 × 满意率',
    )
    expect(weightText(0.30000000000000004)).toBe('0.3')
    expect(
      formulasText({
        basically_satisfied_weight: 0.9,
        composite: { response: 0.3, resolution: 0.35, satisfaction: 0.35 },
        deductions: { late: 0.5, escalated: 1 },
      }),
    ).toBe(
      '满意率 =（满意 + 0.9 × 基本满意）/ 回访数；综合得分 = 0.3 × 响应率 + 0.35 × 解决率 + 0.35 × 满意率；考核得分 = 综合得分 − 0.5 × 逾期件数 − 1 × 转督办件数',
    )
  })
})

describe('ranking', () => {
  it('writes scores with two decimals', () => {
    expect(scoreText(95.3)).toBe('95.30')
    expect(scoreText(100)).toBe('100.00')
    expect(scoreText(null)).toBe('—')
  })
  it('charts the best ten scored units, best first', () => {
    const items = Array.from({ length: 14 }, (_, i) => ({ unit_id: i, unit_name: `单位${i}`, score: i === 3 ? null : 50 + i }))
    const bars = topScores(items)
    expect(bars.labels).toHaveLength(10)
    expect(bars.labels[0]).toBe('单位13')
    expect(bars.values[0]).toBe(63)
    expect(bars.ids[0]).toBe(13)
    expect(bars.labels).not.toContain('单位3')
    expect(topScores(items, 3).values).toEqual([63, 62, 61])
    expect(topScores([]).labels).toEqual([])
  })
  it('charts the evaluation (what ranks) where the server gives one', () => {
    const items = [
      { unit_id: 1, unit_name: '甲', score: 99, evaluation: 90 },
      { unit_id: 2, unit_name: '乙', score: 95, evaluation: 95 },
      { unit_id: 3, unit_name: '丙', score: null, evaluation: null },
    ]
    expect(topScores(items)).toEqual({ labels: ['乙', '甲'], values: [95, 90], ids: [2, 1] })
    expect(rankingScore(items[0])).toBe(90)
    expect(rankingScore({ score: 80 })).toBe(80)
  })
})

const D = { late: 0.5, escalated: 1 }
const PRESETS: FormulaPreset[] = [
  { name: 'standard', label: '标准', formulas: { basically_satisfied_weight: 1, composite: { response: 0.1, resolution: 0.5, satisfaction: 0.4 }, deductions: D } },
  { name: 'strict', label: '从严', formulas: { basically_satisfied_weight: 0.9, composite: { response: 0.1, resolution: 0.5, satisfaction: 0.4 }, deductions: D } },
  { name: 'ordos', label: '鄂尔多斯', formulas: { basically_satisfied_weight: 0.9, composite: { response: 0.3, resolution: 0.35, satisfaction: 0.35 }, deductions: D } },
]

describe('formulas form', () => {
  it('turns a preset into the form and back', () => {
    const form = formulasToForm(PRESETS[2].formulas)
    expect(form).toEqual({ basically_satisfied_weight: 0.9, response: 0.3, resolution: 0.35, satisfaction: 0.35, late: 0.5, escalated: 1 })
    expect(formToFormulas(form)).toEqual(PRESETS[2].formulas)
    expect(presetOf(form, PRESETS)?.name).toBe('ordos')
    expect(presetOf({ ...form, response: 0.2, resolution: 0.45 }, PRESETS)).toBeNull()
    expect(presetOf({ ...form, late: 2 }, PRESETS)).toBeNull()
  })
  it('fills the deductions with their defaults where the server has none', () => {
    const form = formulasToForm({ basically_satisfied_weight: 1, composite: { response: 0.1, resolution: 0.5, satisfaction: 0.4 } })
    expect([form.late, form.escalated]).toEqual([0.5, 1])
  })
  it('keeps settings the form does not edit', () => {
    const base = { ...PRESETS[0].formulas, later: { x: 1 } }
    const out = formToFormulas(formulasToForm(PRESETS[1].formulas), base)
    expect(out.later).toEqual({ x: 1 })
    expect(out.basically_satisfied_weight).toBe(0.9)
    expect(out.deductions).toEqual(D)
  })
  it('checks the weights like the server', () => {
    const ok = formulasToForm(PRESETS[2].formulas)
    expect(checkFormulas(ok)).toBeNull()
    expect(weightSum(ok)).toBe(1)
    expect(checkFormulas({ ...ok, basically_satisfied_weight: 1.2 })?.field).toBe('basically_satisfied_weight')
    expect(checkFormulas({ ...ok, response: 0.4 })).toEqual({ field: 'composite', message: '综合得分的权重合计须为 1（现为 1.1）' })
    expect(checkFormulas({ ...ok, response: -0.1, resolution: 0.75 })?.field).toBe('composite')
    expect(checkFormulas({ ...ok, basically_satisfied_weight: 1, response: 0.1, resolution: 0.2, satisfaction: 0.7 })).toBeNull()
    expect(checkFormulas({ ...ok, late: 101 })).toEqual({ field: 'deductions', message: '扣分须在 0 至 100 分之间' })
    expect(checkFormulas({ ...ok, escalated: -1 })?.field).toBe('deductions')
  })
})
