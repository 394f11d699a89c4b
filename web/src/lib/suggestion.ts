// The dispatch suggestion (智能建议) as the screens use it: confidence as text, the dispatch
// targets it proposes, what 采纳建议 does to an order, and what it may fill on the accept screen.
import type { DispatchTarget, Suggestion, UnitPick } from '../api/types'

/** The reason recorded when the suggested category replaces the order's. */
export const ADOPT_REASON = '采纳智能分类建议'

/** `83%`; `<1%` for a tiny non-zero chance. */
export function percent(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—'
  if (p > 0 && p < 0.005) return '<1%'
  return `${Math.round(Math.min(1, Math.max(0, p)) * 100)}%`
}

export type Confidence = 'high' | 'medium' | 'low'

export function confidenceOf(p: number): Confidence {
  if (p >= 0.7) return 'high'
  if (p >= 0.4) return 'medium'
  return 'low'
}

/** Element Plus tag type for a confidence. */
export function confidenceTag(p: number): 'success' | 'warning' | 'info' {
  const c = confidenceOf(p)
  return c === 'high' ? 'success' : c === 'medium' ? 'warning' : 'info'
}

export function sourceLabel(u: Pick<UnitPick, 'source'>): string {
  return u.source === 'catalogue' ? '派单目录' : '历史派单'
}

/** Whether the models had nothing to learn from yet (keywords and the catalogue only). */
export function isColdStart(s: Pick<Suggestion, 'learned_from'>): boolean {
  return s.learned_from === 0
}

/**
 * The dispatch targets the suggestion proposes: one lead (the first lead, else the first unit),
 * then the co-handlers; each unit once; units in `exclude` (the dispatcher's own) left out.
 */
export function suggestedTargets(s: Pick<Suggestion, 'units'>, exclude: readonly number[] = []): DispatchTarget[] {
  const units = s.units.filter((u) => !exclude.includes(u.unit_id))
  if (!units.length) return []
  const lead = units.find((u) => u.role === 'lead') ?? units[0]
  const out: DispatchTarget[] = [{ unit_id: lead.unit_id, role: 'lead' }]
  for (const u of units) {
    if (out.some((t) => t.unit_id === u.unit_id)) continue
    out.push({ unit_id: u.unit_id, role: 'co' })
  }
  return out
}

export interface AdoptPlan {
  /** The category to amend the order to first (with `ADOPT_REASON`); absent: keep it. */
  category?: string
  targets: DispatchTarget[]
}

/** What 采纳建议 does: amend the category when the order has none or another, then dispatch. */
export function adoptPlan(orderCategory: string | null | undefined, s: Suggestion, exclude: readonly number[] = []): AdoptPlan {
  const plan: AdoptPlan = { targets: suggestedTargets(s, exclude) }
  if (s.category && s.category.code !== (orderCategory ?? null)) plan.category = s.category.code
  return plan
}

// ---- the accept screen: filling what the agent has not chosen ----

/** The title the server gives an order saved without one: its first line, at most 40 characters. */
export function deriveTitle(content: string): string {
  const line =
    content
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  const chars = [...line]
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : line
}

export type FillField = 'request_type' | 'category' | 'region_code'
export type FillValues = Record<FillField, string | undefined>

/** The least confidence at which a suggestion fills a field on its own (below: a hint only). */
export const FILL_MIN: Record<'request_type' | 'category', number> = { request_type: 0.6, category: 0.3 }

/** What the suggestion proposes per field (whatever the confidence). */
export function proposed(s: Suggestion): FillValues {
  return {
    request_type: s.request_type?.code,
    category: s.category?.code,
    region_code: s.region && s.region.ambiguous.length === 0 ? s.region.code : undefined,
  }
}

/** Whether the suggestion is sure enough to fill `field` by itself. */
export function confidentFor(s: Suggestion, field: FillField): boolean {
  if (field === 'request_type') return !!s.request_type && s.request_type.probability >= FILL_MIN.request_type
  if (field === 'category') return !!s.category && s.category.probability >= FILL_MIN.category
  return !!s.region && s.region.ambiguous.length === 0
}

/**
 * The fields to set from a suggestion. A field is filled only when the agent has not chosen it
 * (`chosen`), it is still empty (or at `defaults`), or it holds what an earlier suggestion
 * filled (`filled`) — what the agent chose is never overwritten.
 */
export function fillFrom(
  s: Suggestion,
  current: FillValues,
  chosen: ReadonlySet<FillField>,
  filled: Partial<FillValues>,
  defaults: Partial<FillValues> = {},
): Partial<FillValues> {
  const want = proposed(s)
  const out: Partial<FillValues> = {}
  for (const field of ['request_type', 'category', 'region_code'] as const) {
    if (chosen.has(field)) continue
    const cur = current[field]
    const free = cur === undefined || cur === '' || cur === defaults[field] || (filled[field] !== undefined && cur === filled[field])
    if (!free) continue
    const v = want[field]
    if (v === undefined || v === cur || !confidentFor(s, field)) continue
    out[field] = v
  }
  return out
}
