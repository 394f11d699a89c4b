import { describe, expect, it } from 'vitest'
import { filtersFromQuery, filtersToParams, formatTotal, nextDay } from './query'

describe('filtersToParams', () => {
  it('leaves out empty filters and the default sort', () => {
    expect(filtersToParams({ status: [], number: '  ', sort: '-accepted_at' }).toString()).toBe('')
  })
  it('joins lists with commas and writes booleans as true', () => {
    const p = filtersToParams({ status: ['pending_review', 'returned'], overdue: true, emergency: false })
    expect(p.get('status')).toBe('pending_review,returned')
    expect(p.get('overdue')).toBe('true')
    expect(p.has('emergency')).toBe(false)
  })
  it('sends the inclusive end date as the exclusive next day', () => {
    const p = filtersToParams({ from: '2026-02-01', to: '2026-02-28' })
    expect(p.get('from')).toBe('2026-02-01')
    expect(p.get('to')).toBe('2026-03-01')
  })
  it('only sends assignment_status together with a unit', () => {
    expect(filtersToParams({ assignment_status: 'handling' }).has('assignment_status')).toBe(false)
    const p = filtersToParams({ unit: 2, assignment_status: 'pending_sign' })
    expect(p.toString()).toBe('unit=2&assignment_status=pending_sign')
  })
  it('strips phone separators and adds paging', () => {
    const p = filtersToParams({ phone: '138-0013 8000', sort: 'due_at' }, { limit: 20, cursor: 'abc' })
    expect(p.toString()).toBe('phone=13800138000&sort=due_at&limit=20&cursor=abc')
  })
  it('asks for the orders with a supervision notice awaiting an answer', () => {
    expect(filtersToParams({ notice: 'pending', sort: 'due_at' }).toString()).toBe('notice=pending&sort=due_at')
    expect(filtersFromQuery({ notice: 'pending' }).notice).toBe('pending')
    expect(filtersFromQuery({ notice: 'all' }).notice).toBeUndefined()
  })
  it('keeps due_within_hours whole and positive', () => {
    expect(filtersToParams({ due_within_hours: 4.7 }).get('due_within_hours')).toBe('4')
    expect(filtersToParams({ due_within_hours: 0 }).has('due_within_hours')).toBe(false)
  })
})

describe('filtersFromQuery', () => {
  it('reads a route query back', () => {
    expect(filtersFromQuery({ status: 'handling,replied', overdue: 'true', unit: '7', due_within_hours: '24', junk: 'x' })).toEqual({
      status: ['handling', 'replied'],
      overdue: true,
      unit: 7,
      due_within_hours: 24,
    })
  })
  it('ignores malformed numbers', () => {
    expect(filtersFromQuery({ unit: 'abc', due_within_hours: '-3' })).toEqual({})
  })
})

describe('helpers', () => {
  it('computes the next day across months and years', () => {
    expect(nextDay('2026-12-31')).toBe('2027-01-01')
    expect(nextDay('2028-02-28')).toBe('2028-02-29')
  })
  it('shows capped totals as a lower bound', () => {
    expect(formatTotal(100000, true)).toBe('≥ 100000')
    expect(formatTotal(13, false)).toBe('13')
  })
})
