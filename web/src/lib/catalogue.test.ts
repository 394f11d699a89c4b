import { describe, expect, it } from 'vitest'
import type { CatalogueRule } from '../api/types'
import {
  blankRule,
  checkRule,
  checkRules,
  cleanKeywords,
  formToRule,
  moveItem,
  parseRuleField,
  propKey,
  ruleToForm,
  sameRules,
  setLead,
  unitsText,
} from './catalogue'

const rule: CatalogueRule = {
  category: '01.02',
  region: '990101',
  keywords: ['电梯', '物业'],
  units: [
    { kind: 'unit', unit_id: 2, role: 'lead', unit_name: '市住建局' },
    { kind: 'territorial', role: 'co' },
  ],
  priority: 3,
  note: '物业服务',
}

describe('catalogue rule ⇄ form', () => {
  it('round-trips a rule without the names the server adds', () => {
    const f = ruleToForm(rule)
    expect(f.units[0]).toMatchObject({ kind: 'unit', unit_id: 2, role: 'lead', unit_name: '市住建局' })
    expect(f.units[1]).toMatchObject({ kind: 'territorial', unit_id: undefined, role: 'co' })
    expect(formToRule(f)).toEqual({
      category: '01.02',
      region: '990101',
      keywords: ['电梯', '物业'],
      units: [
        { kind: 'unit', unit_id: 2, role: 'lead' },
        { kind: 'territorial', role: 'co' },
      ],
      priority: 3,
      note: '物业服务',
    })
  })
  it('sends no region for every region, trimmed notes and clean keywords', () => {
    const f = ruleToForm({ ...rule, region: null })
    f.note = '  说明 '
    f.keywords = [' 电梯 ', '电梯', '噪音，扰民', '']
    const r = formToRule(f)
    expect(r.region).toBeNull()
    expect(r.note).toBe('说明')
    expect(r.keywords).toEqual(['电梯', '噪音', '扰民'])
  })
  it('gives each form its own key', () => {
    expect(ruleToForm(rule).key).not.toBe(ruleToForm(rule).key)
    expect(blankRule().units).toEqual([{ kind: 'unit', unit_id: undefined, role: 'lead' }])
  })
  it('splits keywords on spaces and Chinese punctuation', () => {
    expect(cleanKeywords(['供暖、暖气;停暖 停暖'])).toEqual(['供暖', '暖气', '停暖'])
  })
})

describe('catalogue checks', () => {
  it('accepts a complete rule', () => {
    expect(checkRule(ruleToForm(rule), 0)).toEqual([])
  })
  it('names the field as the server would', () => {
    const f = blankRule()
    const p = checkRule(f, 2)
    expect(p.map((x) => x.field)).toEqual(['rules[2].category', 'rules[2].units[0].unit_id'])
  })
  it('wants exactly one lead and no unit twice', () => {
    const f = ruleToForm(rule)
    f.units[1].role = 'lead'
    expect(checkRule(f, 0)).toContainEqual({ field: 'rules[0].units', message: '须有且只有一个主办单位' })
    const g = ruleToForm(rule)
    g.units.push({ kind: 'unit', unit_id: 2, role: 'co' })
    expect(checkRule(g, 0)).toContainEqual({ field: 'rules[0].units[2]', message: '同一单位重复' })
    const h = ruleToForm(rule)
    h.units = []
    expect(checkRule(h, 0)[0].field).toBe('rules[0].units')
  })
  it('limits keywords and notes', () => {
    const f = ruleToForm(rule)
    f.keywords = ['一二三四五六七八九十一二三四五六七八九十一']
    f.note = '字'.repeat(201)
    expect(checkRule(f, 0).map((p) => p.field)).toEqual(['rules[0].keywords[0]', 'rules[0].note'])
  })
  it('checks every rule with its position', () => {
    const ok = ruleToForm(rule)
    expect(checkRules([ok, blankRule()]).every((p) => p.field.startsWith('rules[1]'))).toBe(true)
  })
})

describe('server field paths', () => {
  it('points at a unit of a rule', () => {
    expect(parseRuleField('rules[1].units[0].unit_id')).toEqual({ rule: 1, unit: 0, prop: 'unit_id' })
    expect(parseRuleField('rules[1].units[3]')).toEqual({ rule: 1, unit: 3, prop: 'unit_id' })
    expect(parseRuleField('rules[0].units')).toEqual({ rule: 0, unit: null, prop: 'units' })
  })
  it('points at a field of a rule', () => {
    expect(parseRuleField('rules[12].category')).toEqual({ rule: 12, unit: null, prop: 'category' })
    expect(parseRuleField('rules[0].keywords[2]')).toEqual({ rule: 0, unit: null, prop: 'keywords' })
    expect(parseRuleField('rules[4]')).toEqual({ rule: 4, unit: null, prop: 'category' })
  })
  it('ignores other paths', () => {
    expect(parseRuleField('reason')).toBeNull()
    expect(parseRuleField('rules')).toBeNull()
    expect(parseRuleField(null)).toBeNull()
  })
  it('gives the dialog item key', () => {
    expect(propKey({ unit: 0, prop: 'unit_id' })).toBe('units.0.unit_id')
    expect(propKey({ unit: 1, prop: 'kind' })).toBe('units.1.unit_id')
    expect(propKey({ unit: null, prop: 'region' })).toBe('region')
  })
})

describe('catalogue editing helpers', () => {
  it('moves rules and stays put at the ends', () => {
    expect(moveItem(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b'])
    expect(moveItem(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c'])
    expect(moveItem(['a', 'b', 'c'], 0, -1)).toEqual(['a', 'b', 'c'])
    expect(moveItem(['a', 'b', 'c'], 2, 1)).toEqual(['a', 'b', 'c'])
  })
  it('compares drafts by what they would publish', () => {
    const a = [ruleToForm(rule)]
    const b = [ruleToForm(rule)]
    expect(sameRules(a, b)).toBe(true)
    b[0].keywords = ['电梯']
    expect(sameRules(a, b)).toBe(false)
  })
  it('makes one unit the lead and the others co-handlers', () => {
    const f = ruleToForm(rule)
    expect(setLead(f.units, 1).map((u) => u.role)).toEqual(['co', 'lead'])
  })
  it('writes units as text', () => {
    expect(unitsText(ruleToForm(rule).units, (id) => `#${id}`)).toBe('主办：市住建局；协办：属地单位')
    expect(unitsText([{ kind: 'unit', unit_id: 7, role: 'lead' }], (id) => `单位${id}`)).toBe('主办：单位7')
  })
})
