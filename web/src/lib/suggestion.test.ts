import { describe, expect, it } from 'vitest'
import type { Suggestion } from '../api/types'
import { adoptPlan, confidenceOf, deriveTitle, fillFrom, isColdStart, percent, proposed, sourceLabel, suggestedTargets } from './suggestion'

function sug(over: Partial<Suggestion> = {}): Suggestion {
  return {
    category: { code: '01.02.12', name: '小区管理', probability: 0.83 },
    alternatives: [{ code: '01.02.01', name: '园林绿化环卫', probability: 0.05 }],
    reasons: ['小区', '物业'],
    request_type: { code: 'complaint', name: '投诉', probability: 0.9 },
    region: { code: '990101', path: ['A市', 'A1区'], words: ['a1区'], ambiguous: [] },
    units: [
      { unit_id: 2, name: '市住建局', role: 'lead', source: 'catalogue' },
      { unit_id: 9, name: '北路街道', role: 'co', source: 'catalogue' },
    ],
    rule: null,
    learned_from: 120,
    ...over,
  }
}

describe('suggestion text', () => {
  it('shows chances as whole percents', () => {
    expect(percent(0.834)).toBe('83%')
    expect(percent(1)).toBe('100%')
    expect(percent(0)).toBe('0%')
    expect(percent(0.001)).toBe('<1%')
    expect(percent(null)).toBe('—')
  })
  it('grades confidence', () => {
    expect(confidenceOf(0.9)).toBe('high')
    expect(confidenceOf(0.5)).toBe('medium')
    expect(confidenceOf(0.1)).toBe('low')
  })
  it('names the source and the cold start', () => {
    expect(sourceLabel({ source: 'catalogue' })).toBe('派单目录')
    expect(sourceLabel({ source: 'history' })).toBe('历史派单')
    expect(isColdStart({ learned_from: 0 })).toBe(true)
    expect(isColdStart({ learned_from: 3 })).toBe(false)
  })
})

describe('suggestion → dispatch targets', () => {
  it('keeps the lead first and the co-handlers after', () => {
    expect(suggestedTargets(sug())).toEqual([
      { unit_id: 2, role: 'lead' },
      { unit_id: 9, role: 'co' },
    ])
  })
  it('makes the first unit the lead when none is, and names each unit once', () => {
    const s = sug({
      units: [
        { unit_id: 5, name: 'x', role: 'co', source: 'history' },
        { unit_id: 5, name: 'x', role: 'co', source: 'history' },
        { unit_id: 6, name: 'y', role: 'co', source: 'history' },
      ],
    })
    expect(suggestedTargets(s)).toEqual([
      { unit_id: 5, role: 'lead' },
      { unit_id: 6, role: 'co' },
    ])
  })
  it('leaves out excluded units and gives nothing without units', () => {
    expect(suggestedTargets(sug(), [2])).toEqual([{ unit_id: 9, role: 'lead' }])
    expect(suggestedTargets(sug({ units: [] }))).toEqual([])
  })
})

describe('采纳建议', () => {
  it('amends the category when the order has none or another', () => {
    expect(adoptPlan(null, sug()).category).toBe('01.02.12')
    expect(adoptPlan('05.01', sug()).category).toBe('01.02.12')
  })
  it('keeps a matching category or one without a suggestion', () => {
    expect(adoptPlan('01.02.12', sug()).category).toBeUndefined()
    expect(adoptPlan('05.01', sug({ category: null })).category).toBeUndefined()
    expect(adoptPlan('05.01', sug()).targets).toHaveLength(2)
  })
})

describe('the accept screen fills what the agent has not chosen', () => {
  const empty = { request_type: 'complaint', category: undefined, region_code: undefined }
  const defaults = { request_type: 'complaint' }
  it('fills empty fields from a confident suggestion', () => {
    const s = sug({ request_type: { code: 'help', name: '求助', probability: 0.8 } })
    expect(fillFrom(s, empty, new Set(), {}, defaults)).toEqual({ request_type: 'help', category: '01.02.12', region_code: '990101' })
  })
  it('never overwrites a choice', () => {
    const s = sug({ request_type: { code: 'help', name: '求助', probability: 0.8 } })
    const cur = { request_type: 'consultation', category: '05', region_code: undefined }
    expect(fillFrom(s, cur, new Set(['request_type', 'category'] as const), {}, defaults)).toEqual({ region_code: '990101' })
    // Chosen but cleared: stays empty.
    expect(fillFrom(s, empty, new Set(['category'] as const), {}, defaults)).not.toHaveProperty('category')
  })
  it('replaces what an earlier suggestion filled, not other values', () => {
    const s = sug()
    expect(fillFrom(s, { ...empty, category: '03' }, new Set(), { category: '03' }, defaults)).toHaveProperty('category', '01.02.12')
    expect(fillFrom(s, { ...empty, category: '03' }, new Set(), {}, defaults)).not.toHaveProperty('category')
  })
  it('leaves unsure guesses and ambiguous places as hints', () => {
    const s = sug({
      category: { code: '01', name: '城乡建设', probability: 0.1 },
      request_type: { code: 'help', name: '求助', probability: 0.4 },
      region: { code: '9901', path: ['A市'], words: ['中山路'], ambiguous: ['9902'] },
    })
    expect(fillFrom(s, empty, new Set(), {}, defaults)).toEqual({})
    expect(proposed(s)).toEqual({ request_type: 'help', category: '01', region_code: undefined })
  })
  it('changes nothing when the form already holds the suggestion', () => {
    expect(fillFrom(sug(), { request_type: 'complaint', category: '01.02.12', region_code: '990101' }, new Set(), {}, defaults)).toEqual({})
  })
})

describe('the title the server derives', () => {
  it('takes the first non-empty line, at most 40 characters', () => {
    expect(deriveTitle('\n  小区电梯坏了  \n第二行')).toBe('小区电梯坏了')
    expect(deriveTitle('字'.repeat(41))).toBe(`${'字'.repeat(40)}…`)
    expect(deriveTitle('字'.repeat(40))).toBe('字'.repeat(40))
    expect(deriveTitle('')).toBe('')
  })
})
