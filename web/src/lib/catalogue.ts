// The dispatch catalogue (派单目录) editor: rules as the API has them ⇄ rules as the form edits
// them, the checks the server makes (so that most mistakes show before publishing), and the
// server's field paths (`rules[1].units[0].unit_id`) back to a rule and a form item.
import type { AssignRole, CatalogueRule, CatalogueUnit } from '../api/types'

export interface UnitForm {
  kind: 'unit' | 'territorial'
  unit_id: number | undefined
  role: AssignRole
  /** The unit's name as the server last gave it (for read-only display). */
  unit_name?: string
}

export interface RuleForm {
  /** A local key that survives reordering (v-for). */
  key: number
  category: string | undefined
  region: string | undefined
  keywords: string[]
  units: UnitForm[]
  priority: number
  note: string
}

export const ROLE_LABELS: Record<AssignRole, string> = { lead: '主办', co: '协办' }
export const TERRITORIAL_LABEL = '属地单位'
export const MAX_KEYWORD_CHARS = 20
export const MAX_NOTE_CHARS = 200

let nextKey = 1
export function newKey(): number {
  return nextKey++
}

export function blankRule(): RuleForm {
  return {
    key: newKey(),
    category: undefined,
    region: undefined,
    keywords: [],
    units: [{ kind: 'unit', unit_id: undefined, role: 'lead' }],
    priority: 0,
    note: '',
  }
}

export function ruleToForm(r: CatalogueRule): RuleForm {
  return {
    key: newKey(),
    category: r.category || undefined,
    region: r.region || undefined,
    keywords: [...(r.keywords ?? [])],
    units: (r.units ?? []).map((u) => ({
      kind: u.kind === 'territorial' ? 'territorial' : 'unit',
      unit_id: u.kind === 'territorial' ? undefined : (u.unit_id ?? undefined),
      role: u.role === 'co' ? 'co' : 'lead',
      unit_name: u.unit_name ?? undefined,
    })),
    priority: r.priority ?? 0,
    note: r.note ?? '',
  }
}

/** Keywords as the server keeps them: trimmed, no empties, no repeats, in the order typed. */
export function cleanKeywords(words: readonly string[]): string[] {
  const out: string[] = []
  for (const w of words) {
    for (const part of w.split(/[\s,，、;；]+/)) {
      const t = part.trim()
      if (t && !out.includes(t)) out.push(t)
    }
  }
  return out
}

/** The rule to send (without the names the server adds to its answers). */
export function formToRule(f: RuleForm): CatalogueRule {
  return {
    category: f.category ?? '',
    region: f.region || null,
    keywords: cleanKeywords(f.keywords),
    units: f.units.map((u): CatalogueUnit =>
      u.kind === 'territorial' ? { kind: 'territorial', role: u.role } : { kind: 'unit', unit_id: u.unit_id ?? null, role: u.role },
    ),
    priority: Number.isFinite(f.priority) ? Math.trunc(f.priority) : 0,
    note: f.note.trim(),
  }
}

/** A problem with one rule: the path as the server would name it, and the message. */
export interface RuleProblem {
  field: string
  message: string
}

/** The server's checks of one rule (`index` is its position), first problem first. */
export function checkRule(f: RuleForm, index: number): RuleProblem[] {
  const at = (p: string) => `rules[${index}].${p}`
  const out: RuleProblem[] = []
  if (!f.category) out.push({ field: at('category'), message: '请选择诉求分类' })
  cleanKeywords(f.keywords).forEach((w, k) => {
    if ([...w].length > MAX_KEYWORD_CHARS) out.push({ field: at(`keywords[${k}]`), message: `关键词须为 1 至 ${MAX_KEYWORD_CHARS} 个字` })
  })
  if (f.units.length === 0) out.push({ field: at('units'), message: '至少指定一个承办单位' })
  else {
    const leads = f.units.filter((u) => u.role === 'lead').length
    if (leads !== 1) out.push({ field: at('units'), message: '须有且只有一个主办单位' })
  }
  f.units.forEach((u, k) => {
    if (u.kind === 'unit' && u.unit_id === undefined) out.push({ field: at(`units[${k}].unit_id`), message: '请指定单位' })
    const same = f.units.slice(0, k).some((o) => o.kind === u.kind && (u.kind === 'territorial' || o.unit_id === u.unit_id))
    if (same && (u.kind === 'territorial' || u.unit_id !== undefined)) out.push({ field: at(`units[${k}]`), message: '同一单位重复' })
  })
  if ([...f.note.trim()].length > MAX_NOTE_CHARS) out.push({ field: at('note'), message: `备注至多 ${MAX_NOTE_CHARS} 字` })
  return out
}

export function checkRules(rules: readonly RuleForm[]): RuleProblem[] {
  return rules.flatMap((r, i) => checkRule(r, i))
}

/** Where a server field path points: the rule, the unit row (if any) and the form item. */
export interface RuleFieldRef {
  rule: number
  unit: number | null
  /** `category`, `region`, `keywords`, `units`, `unit_id`, `role`, `kind`, `priority`, `note`. */
  prop: string
}

/** `rules[1].units[0].unit_id` → `{ rule: 1, unit: 0, prop: 'unit_id' }`; null for other paths. */
export function parseRuleField(field: string | null | undefined): RuleFieldRef | null {
  if (!field) return null
  const m = /^rules\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?(?:\.(\w+))?)?$/.exec(field.trim())
  if (!m) return null
  const rule = Number(m[1])
  const head = m[2] ?? 'category'
  if (head === 'units') {
    if (m[3] === undefined) return { rule, unit: null, prop: 'units' }
    return { rule, unit: Number(m[3]), prop: m[4] ?? 'unit_id' }
  }
  return { rule, unit: null, prop: head }
}

/** The key of the form item a field reference is shown on (see the rule dialog). */
export function propKey(ref: Pick<RuleFieldRef, 'unit' | 'prop'>): string {
  return ref.unit === null ? ref.prop : `units.${ref.unit}.${ref.prop === 'kind' ? 'unit_id' : ref.prop}`
}

/** Moves the item at `from` by `delta` places (a new array; unchanged at the ends). */
export function moveItem<T>(list: readonly T[], from: number, delta: number): T[] {
  const to = from + delta
  const out = [...list]
  if (from < 0 || from >= list.length || to < 0 || to >= list.length) return out
  const [x] = out.splice(from, 1)
  out.splice(to, 0, x)
  return out
}

/** Whether two rule lists would publish the same catalogue. */
export function sameRules(a: readonly RuleForm[], b: readonly RuleForm[]): boolean {
  return JSON.stringify(a.map(formToRule)) === JSON.stringify(b.map(formToRule))
}

/** Makes the rule's units consistent after a role change: choosing a lead makes the others co. */
export function setLead(units: readonly UnitForm[], index: number): UnitForm[] {
  return units.map((u, k) => ({ ...u, role: k === index ? 'lead' : 'co' }))
}

/** `主办：市住建局；协办：属地单位` — for tables. */
export function unitsText(units: readonly UnitForm[], name: (id: number) => string): string {
  const label = (u: UnitForm) => (u.kind === 'territorial' ? TERRITORIAL_LABEL : u.unit_id !== undefined ? (u.unit_name ?? name(u.unit_id)) : '（未指定）')
  const lead = units.filter((u) => u.role === 'lead').map(label)
  const co = units.filter((u) => u.role === 'co').map(label)
  return [lead.length ? `主办：${lead.join('、')}` : '', co.length ? `协办：${co.join('、')}` : ''].filter(Boolean).join('；')
}
