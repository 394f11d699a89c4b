import { describe, expect, it } from 'vitest'
import { checkPick, difficultyOf, difficultyText, growth, issueKey, pickBody, unresolved } from './hardcases'

const counts = { called_back: 6, resolved: 4, dissatisfied: 1, rehandled: 1, escalated: 1, late: 2 }

describe('每月一题', () => {
  it('weighs what went wrong as the server does', () => {
    expect(unresolved(counts)).toBe(2)
    expect(unresolved({ called_back: 1, resolved: 3 })).toBe(0)
    expect(difficultyOf(counts)).toBe(2 + 1 + 2 + 3 + 2)
    expect(difficultyText(counts)).toBe('未解决 2 + 不满意 1 + 2 × 重办 1 + 3 × 转督办 1 + 逾期 2 = 10')
    expect(difficultyText({ called_back: 1, resolved: 0, dissatisfied: 1, rehandled: 1, escalated: 0, late: 0 })).toBe('未解决 1 + 不满意 1 + 2 × 重办 1 = 4')
    expect(difficultyText({ called_back: 0, resolved: 0, dissatisfied: 0, rehandled: 0, escalated: 0, late: 0 })).toMatch(/^无/)
  })
  it('compares the month with the month before', () => {
    expect(growth(3, 2)).toEqual({ text: '+50%', trend: 'up' })
    expect(growth(4, 5)).toEqual({ text: '−20%', trend: 'down' })
    expect(growth(5, 5)).toEqual({ text: '持平', trend: 'flat' })
    expect(growth(2, 0)).toEqual({ text: '新增', trend: 'new' })
    expect(growth(0, 0)).toEqual({ text: '—', trend: 'none' })
    expect(growth(1001, 1000)).toEqual({ text: '+<1%', trend: 'up' })
  })
  it('keys an issue and asks for a note', () => {
    expect(issueKey({ category_code: '01.01', district_code: '990101' })).toBe('01.01|990101')
    expect(checkPick({ note: '  ' })).toEqual({ note: expect.stringContaining('请填写说明') })
    expect(checkPick({ note: 'x'.repeat(1001) })).toEqual({ note: '说明至多 1000 字' })
    expect(checkPick({ note: '集中治理' })).toBeNull()
  })
  it('sends the issue, the unit when named, and the note trimmed', () => {
    const h = { category_code: '01.01', district_code: '990101' }
    expect(pickBody(h, { unit_id: 2, note: ' 本月集中治理 ' })).toEqual({ category: '01.01', district: '990101', unit_id: 2, note: '本月集中治理' })
    expect(pickBody(h, { unit_id: undefined, note: '治理' })).toEqual({ category: '01.01', district: '990101', note: '治理' })
  })
})
