import { describe, expect, it } from 'vitest'
import {
  accuracySeries,
  basisLabel,
  checkSettings,
  codedStatus,
  DEFAULT_SETTINGS,
  growthOf,
  isHotspotRank,
  lastYearText,
  levelTag,
  perDay,
  rateText,
  ratioText,
  similarityText,
  sortWarnings,
  spanDays,
  trendSeries,
} from './insight'

describe('hot spots', () => {
  it('knows the rankings', () => {
    expect(isHotspotRank('growth')).toBe(true)
    expect(isHotspotRank('hot')).toBe(false)
    expect(isHotspotRank(undefined)).toBe(false)
  })
  it('writes growth of the last week over the week before', () => {
    expect(growthOf(5, 2)).toEqual({ trend: 'up', text: '+150%', detail: '近7天 5 件 / 前7天 2 件' })
    expect(growthOf(1, 4).text).toBe('-75%')
    expect(growthOf(1, 4).trend).toBe('down')
    expect(growthOf(3, 3).trend).toBe('flat')
    expect(growthOf(3, 0)).toMatchObject({ trend: 'new', text: '新出现' })
    expect(growthOf(0, 0)).toMatchObject({ trend: 'flat', text: '持平' })
  })
  it('counts the days a hot spot spans', () => {
    expect(spanDays('2026-11-01T02:00:00Z', '2026-11-01T09:00:00Z')).toBe(1)
    expect(spanDays('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z')).toBe(10)
    expect(spanDays('x', 'y')).toBe(0)
    expect(spanDays(null, '2026-11-01T00:00:00Z')).toBe(0)
  })
})

describe('warnings', () => {
  it('writes ratios and means per day', () => {
    expect(ratioText(3.24)).toBe('3.2 倍')
    expect(ratioText(2)).toBe('2.0 倍')
    expect(ratioText(12.6)).toBe('13 倍')
    expect(ratioText(Infinity)).toBe('—')
    expect(perDay(0)).toBe('0')
    expect(perDay(2.44)).toBe('2.4')
    expect(perDay(15.5)).toBe('16')
  })
  it('tags levels and compares with last year', () => {
    expect(levelTag('red')).toBe('danger')
    expect(levelTag('yellow')).toBe('warning')
    expect(lastYearText(10, 0)).toBe('去年同期无此类诉求')
    expect(lastYearText(10, 2.5)).toBe('去年同期日均 2.5 件（当日为其 4.0 倍）')
  })
  it('puts red first, then the larger ratio', () => {
    const w = sortWarnings([
      { level: 'yellow' as const, ratio: 9, count: 9 },
      { level: 'red' as const, ratio: 3, count: 6 },
      { level: 'red' as const, ratio: 5, count: 6 },
    ])
    expect(w.map((x) => `${x.level}${x.ratio}`)).toEqual(['red5', 'red3', 'yellow9'])
  })
  it('labels the months of a trend, the year where it changes', () => {
    const s = trendSeries([
      { month: '2026-01', count: 4, last_year: 2 },
      { month: '2025-12', count: 3, last_year: 1 },
      { month: '2026-02', count: 5, last_year: 0 },
    ])
    expect(s.labels).toEqual(['2025年12月', '2026年1月', '2月'])
    expect(s.thisYear).toEqual([3, 4, 5])
    expect(s.lastYear).toEqual([1, 2, 0])
  })
})

describe('suggestion accuracy', () => {
  it('writes rates, nothing when nothing was dispatched', () => {
    expect(rateText(0.8351)).toBe('83.5%')
    expect(rateText(1)).toBe('100.0%')
    expect(rateText(0, 0)).toBe('—')
  })
  it('gives percent per day with gaps on days without dispatches', () => {
    const s = accuracySeries([
      { date: '2026-11-02', dispatches: 0, category_hits: 0, unit_hits: 0, type_hits: 0 },
      { date: '2026-11-01', dispatches: 4, category_hits: 3, unit_hits: 2, type_hits: 4 },
    ])
    expect(s.dates).toEqual(['11-01', '11-02'])
    expect(s.category).toEqual([75, null])
    expect(s.unit).toEqual([50, null])
    expect(s.type).toEqual([100, null])
  })
})

describe('repeats and settings', () => {
  it('labels the basis and the similarity', () => {
    expect(basisLabel('caller')).toBe('同一来电人')
    expect(basisLabel('address')).toBe('同一地址')
    expect(similarityText(0.724)).toBe('相似度 72%')
    expect(similarityText(null)).toBe('')
  })
  it('takes a status as a code or coded', () => {
    expect(codedStatus('closed', [{ code: 'closed', label: '已办结' }])).toEqual({ code: 'closed', label: '已办结' })
    expect(codedStatus('x')).toEqual({ code: 'x', label: 'x' })
    expect(codedStatus({ code: 'a', label: 'b' })).toEqual({ code: 'a', label: 'b' })
    expect(codedStatus(null)).toBeNull()
  })
  it('checks settings ranges', () => {
    expect(checkSettings(DEFAULT_SETTINGS)).toBeNull()
    expect(checkSettings({ ...DEFAULT_SETTINGS, hotspot_window_days: 3 })).toEqual({ field: 'hotspot_window_days', message: '须在 7 至 365 之间' })
    expect(checkSettings({ ...DEFAULT_SETTINGS, repeat_min_similarity: 1.5 })?.field).toBe('repeat_min_similarity')
    expect(checkSettings({ ...DEFAULT_SETTINGS, repeat_window_days: 2.5 })).toEqual({ field: 'repeat_window_days', message: '须为整数' })
  })
})
