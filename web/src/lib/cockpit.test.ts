import { describe, expect, it } from 'vitest'
import { HEAT_COLORS, HEAT_LEVELS, heatTiles, trendSeries, trendTotal, warningLevelLabel, warningText } from './cockpit'

describe('the district heat grid', () => {
  it('puts the busiest district first and darkest, the quiet ones light', () => {
    const tiles = heatTiles([
      { code: '990102', name: 'B区', orders: 10 },
      { code: '990101', name: 'A区', orders: 100 },
      { code: '990103', name: 'C区', orders: 0 },
      { code: '990104', name: 'D区', orders: 1 },
    ])
    expect(tiles.map((t) => t.name)).toEqual(['A区', 'B区', 'D区', 'C区'])
    expect(tiles[0].level).toBe(HEAT_LEVELS)
    expect(tiles[0].color).toBe(HEAT_COLORS[HEAT_LEVELS])
    expect(tiles[0].ink).toBe('#ffffff')
    expect(tiles[1].level).toBe(1)
    expect(tiles[2].level).toBe(1)
    expect(tiles[3].level).toBe(0)
    expect(tiles[3].ink).toBe('#1f2d3d')
    expect(tiles[0].share).toBeCloseTo(100 / 111)
    // Never lighter for more orders.
    for (let i = 1; i < tiles.length; i++) expect(tiles[i].level).toBeLessThanOrEqual(tiles[i - 1].level)
  })
  it('grades the levels by the share of the busiest', () => {
    const tiles = heatTiles([
      { code: 'a', name: 'a', orders: 60 },
      { code: 'b', name: 'b', orders: 30 },
      { code: 'c', name: 'c', orders: 11 },
    ])
    expect(tiles.map((t) => t.level)).toEqual([6, 3, 2])
  })
  it('copes with no districts and no orders', () => {
    expect(heatTiles([])).toEqual([])
    expect(heatTiles([{ code: 'a', name: 'a', orders: 0 }])[0]).toMatchObject({ level: 0, share: 0 })
  })
})

describe('trend and warnings', () => {
  it('labels the days by month and day and sums them', () => {
    const trend = [
      { date: '2026-02-27', orders: 3 },
      { date: '2026-02-28', orders: 0 },
      { date: '2026-03-01', orders: 5 },
    ]
    expect(trendSeries(trend)).toEqual({ x: ['02-27', '02-28', '03-01'], data: [3, 0, 5] })
    expect(trendTotal(trend)).toBe(8)
  })
  it('states a warning in words', () => {
    expect(warningText({ category: '供水', region: 'A区', count: 12, baseline: 2.46, level: 'red' })).toBe('A区 · 供水：今日 12 件，平日约 2.5 件/天')
    expect(warningLevelLabel('red')).toBe('红色预警')
    expect(warningLevelLabel('yellow')).toBe('黄色预警')
  })
})
