import { describe, expect, it } from 'vitest'
import { formatAgo, formatCst, formatCstShort, formatRemaining, tickInterval, todayCst, urgencyOf } from './time'

const H = 3600_000
const M = 60_000

describe('formatCst', () => {
  it('shows UTC instants in China Standard Time', () => {
    expect(formatCst('2026-11-24T16:30:00Z')).toBe('2026-11-25 00:30')
    expect(formatCst('2026-11-24T09:30:00Z', true)).toBe('2026-11-24 17:30:00')
    expect(formatCstShort('2026-11-24T09:30:00Z')).toBe('11-24 17:30')
  })
  it('is empty for missing or broken values', () => {
    expect(formatCst(null)).toBe('')
    expect(formatCst(undefined)).toBe('')
    expect(formatCst('not a date')).toBe('')
  })
  it("gives today's date in China", () => {
    expect(todayCst(new Date('2026-11-24T17:00:00Z'))).toBe('2026-11-25')
    expect(todayCst(new Date('2026-11-24T15:59:59Z'))).toBe('2026-11-24')
  })
})

describe('formatRemaining', () => {
  it('uses days and hours when far', () => {
    expect(formatRemaining(2 * 24 * H + 3 * H + 20 * M)).toBe('剩余 2天3小时')
    expect(formatRemaining(3 * 24 * H + 10 * M)).toBe('剩余 3天')
  })
  it('uses hours and padded minutes within a day', () => {
    expect(formatRemaining(3 * H + 5 * M + 59_000)).toBe('剩余 3小时05分')
  })
  it('uses minutes and seconds within the hour', () => {
    expect(formatRemaining(12 * M + 30_000)).toBe('剩余 12分30秒')
    expect(formatRemaining(42_000)).toBe('剩余 42秒')
    expect(formatRemaining(0)).toBe('剩余 0秒')
  })
  it('says how late once passed', () => {
    expect(formatRemaining(-(26 * H))).toBe('已超时 1天2小时')
    expect(formatRemaining(-(5 * M + 3000))).toBe('已超时 5分03秒')
  })
})

describe('urgency and ticking', () => {
  it('grades the time left', () => {
    expect(urgencyOf(-1)).toBe('overdue')
    expect(urgencyOf(H)).toBe('critical')
    expect(urgencyOf(5 * H)).toBe('soon')
    expect(urgencyOf(30 * H)).toBe('normal')
  })
  it('ticks every second in the last hour only', () => {
    expect(tickInterval(30 * M)).toBe(1000)
    expect(tickInterval(-30 * M)).toBe(1000)
    expect(tickInterval(2 * H)).toBe(30_000)
  })
  it('describes ages', () => {
    const now = Date.parse('2026-11-25T00:00:00Z')
    expect(formatAgo('2026-11-24T23:59:30Z', now)).toBe('刚刚')
    expect(formatAgo('2026-11-24T23:55:00Z', now)).toBe('5分钟前')
    expect(formatAgo('2026-11-24T21:00:00Z', now)).toBe('3小时前')
    expect(formatAgo('2026-11-22T00:00:00Z', now)).toBe('3天前')
  })
})
