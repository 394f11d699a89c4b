// The monthly evaluation (考核): the peer groups, the scores as text, and the checks of the
// admin's commands (closing a month, adjusting a closed month's score).
import { todayCst } from './time'

export const PEER_KINDS = [
  { code: 'department', label: '职能部门' },
  { code: 'town', label: '乡镇街道' },
] as const

export type PeerKind = (typeof PEER_KINDS)[number]['code']

export function isPeerKind(s: unknown): s is PeerKind {
  return typeof s === 'string' && PEER_KINDS.some((k) => k.code === s)
}

/** `95.00`; `—` without a score. */
export function scoreText(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(2)
}

/** `+2`, `-5`, `-0.5`; `0` for none. */
export function pointsText(v: number): string {
  if (!Number.isFinite(v) || v === 0) return '0'
  const s = String(Math.round(v * 100) / 100)
  return v > 0 ? `+${s}` : s
}

/** Only a month that has ended can be closed (China time). */
export function canCloseMonth(month: string, now: Date = new Date()): boolean {
  return /^\d{4}-\d{2}$/.test(month) && month < todayCst(now).slice(0, 7)
}

export interface AdjustmentForm {
  unit_id: number | null | undefined
  points: number | null | undefined
  reason: string
}

/** Why an adjustment cannot be sent (field → message), or null. */
export function checkAdjustment(f: AdjustmentForm): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!f.unit_id) out.unit_id = '请选择单位'
  const p = f.points
  if (p === null || p === undefined || !Number.isFinite(p) || p === 0) out.points = '请填写调整分值（不能为 0）'
  else if (p < -100 || p > 100) out.points = '调整分值须在 −100 至 100 之间'
  if (!f.reason.trim()) out.reason = '请填写调整原因'
  return Object.keys(out).length ? out : null
}

/** The years offered on the yearly view: this one and a few before. */
export function recentYears(now: Date = new Date(), count = 5): number[] {
  const y = Number(todayCst(now).slice(0, 4))
  return Array.from({ length: count }, (_, i) => y - i)
}
