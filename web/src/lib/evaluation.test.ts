import { describe, expect, it } from 'vitest'
import { canCloseMonth, checkAdjustment, isPeerKind, pointsText, recentYears, scoreText } from './evaluation'

const at = (iso: string) => new Date(iso)

describe('evaluation', () => {
  it('writes scores and points', () => {
    expect(scoreText(95)).toBe('95.00')
    expect(scoreText(null)).toBe('—')
    expect(pointsText(-5)).toBe('-5')
    expect(pointsText(2.5)).toBe('+2.5')
    expect(pointsText(0)).toBe('0')
  })
  it('closes only months that have ended in China', () => {
    // 2026-03-31 20:00 UTC is already April 1st in China.
    expect(canCloseMonth('2026-03', at('2026-03-31T15:00:00Z'))).toBe(false)
    expect(canCloseMonth('2026-03', at('2026-03-31T20:00:00Z'))).toBe(true)
    expect(canCloseMonth('2026-02', at('2026-03-10T00:00:00Z'))).toBe(true)
    expect(canCloseMonth('2026-04', at('2026-03-10T00:00:00Z'))).toBe(false)
    expect(canCloseMonth('bad', at('2026-03-10T00:00:00Z'))).toBe(false)
  })
  it('checks an adjustment as the server does', () => {
    expect(checkAdjustment({ unit_id: 2, points: -5, reason: '核实群众投诉，扣 5 分' })).toBeNull()
    expect(checkAdjustment({ unit_id: undefined, points: 0, reason: ' ' })).toEqual({
      unit_id: '请选择单位',
      points: '请填写调整分值（不能为 0）',
      reason: '请填写调整原因',
    })
    expect(checkAdjustment({ unit_id: 2, points: 101, reason: 'x' })).toHaveProperty('points')
    expect(checkAdjustment({ unit_id: 2, points: -100, reason: 'x' })).toBeNull()
  })
  it('knows the peer groups and the recent years', () => {
    expect(isPeerKind('department')).toBe(true)
    expect(isPeerKind('town')).toBe(true)
    expect(isPeerKind('grid')).toBe(false)
    expect(recentYears(at('2026-06-01T00:00:00Z'), 3)).toEqual([2026, 2025, 2024])
  })
})
