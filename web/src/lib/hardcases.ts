// 每月一题: the month's hardest issues (a category's first two levels in a district), ranked by
// their 难点分, compared with the month before, and the ones picked for concentrated handling.
import type { HardCase, StatCounts, StatMeasure } from '../api/types'
import type { Role } from './menu'

/** Who may pick an issue (the API: supervisors and administrators). */
export const PICK_ROLES: readonly Role[] = ['supervisor', 'admin']

/** The longest note the server takes. */
export const MAX_NOTE = 1000

/** The counts of what went wrong, as the table lists them, each opening its orders. */
export const TROUBLE_COUNTS: readonly { measure: StatMeasure; label: string }[] = [
  { measure: 'dissatisfied', label: '不满意' },
  { measure: 'rehandled', label: '重办' },
  { measure: 'escalated', label: '转督办' },
  { measure: 'late', label: '逾期' },
]

/** An issue's key, as the server keys it: `01.01|990101`. */
export function issueKey(h: Pick<HardCase, 'category_code' | 'district_code'>): string {
  return `${h.category_code}|${h.district_code}`
}

/** Called back but not resolved (未解决). */
export function unresolved(c: Pick<StatCounts, 'called_back' | 'resolved'>): number {
  return Math.max(0, c.called_back - c.resolved)
}

/** The 难点分 as the server computes it. */
export function difficultyOf(c: Pick<StatCounts, 'called_back' | 'resolved' | 'dissatisfied' | 'rehandled' | 'escalated' | 'late'>): number {
  return unresolved(c) + c.dissatisfied + 2 * c.rehandled + 3 * c.escalated + c.late
}

/** The 难点分 in words, its terms that count: `未解决 1 + 不满意 1 + 2 × 重办 1 = 4`. */
export function difficultyText(c: Pick<StatCounts, 'called_back' | 'resolved' | 'dissatisfied' | 'rehandled' | 'escalated' | 'late'>): string {
  const terms: string[] = []
  const add = (n: number, label: string, weight = 1) => {
    if (n > 0) terms.push(`${weight === 1 ? '' : `${weight} × `}${label} ${n}`)
  }
  add(unresolved(c), '未解决')
  add(c.dissatisfied, '不满意')
  add(c.rehandled, '重办', 2)
  add(c.escalated, '转督办', 3)
  add(c.late, '逾期')
  return terms.length ? `${terms.join(' + ')} = ${difficultyOf(c)}` : '无未解决、不满意、重办、转督办或逾期'
}

export type Trend = 'up' | 'down' | 'flat' | 'new' | 'none'

/** This month against the month before: `+50%`, `−20%`, `持平`, `新增` (none before). */
export function growth(now: number, before: number): { text: string; trend: Trend } {
  if (before <= 0) return now > 0 ? { text: '新增', trend: 'new' } : { text: '—', trend: 'none' }
  if (now === before) return { text: '持平', trend: 'flat' }
  const pct = Math.round(((now - before) * 100) / before)
  if (pct === 0) return { text: now > before ? '+<1%' : '−<1%', trend: now > before ? 'up' : 'down' }
  return pct > 0 ? { text: `+${pct}%`, trend: 'up' } : { text: `−${-pct}%`, trend: 'down' }
}

export interface PickForm {
  unit_id?: number | null
  note: string
}

/** The first problem of a pick, named as the server names it, or null. */
export function checkPick(form: PickForm): Record<string, string> | null {
  const note = form.note.trim()
  if (!note) return { note: '请填写说明（选题理由与办理要求）' }
  if ([...note].length > MAX_NOTE) return { note: `说明至多 ${MAX_NOTE} 字` }
  return null
}

/** The body of `POST /api/supervision/hard-cases/{month}`. */
export function pickBody(h: Pick<HardCase, 'category_code' | 'district_code'>, form: PickForm) {
  return {
    category: h.category_code,
    district: h.district_code,
    ...(form.unit_id ? { unit_id: form.unit_id } : {}),
    note: form.note.trim(),
  }
}
