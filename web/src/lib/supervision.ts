// Supervision (督办): the notices an order carries and where each stands, the sections of the
// supervisor's board, and what a unit still has to answer.
import type { Order, SupervisionBoard, SupervisionNotice } from '../api/types'

export const NOTICE_KINDS = [
  { code: 'reminder', label: '提示单' },
  { code: 'supervision', label: '督办单' },
] as const

export const SUPERVISION_LEVELS = [
  { code: 'daily', label: '日常督办' },
  { code: 'key', label: '重点督办' },
  { code: 'task_force', label: '专班调度' },
] as const

/** Response times offered (hours); the server accepts 1–240. */
export const RESPOND_HOURS = [4, 8, 24, 48, 72] as const
export const MAX_RESPOND_HOURS = 240

export function noticeKindLabel(code: string): string {
  return NOTICE_KINDS.find((k) => k.code === code)?.label ?? code
}

export function levelLabel(code: string): string {
  return SUPERVISION_LEVELS.find((k) => k.code === code)?.label ?? code
}

export type NoticeState = 'answered' | 'pending' | 'overdue'

/** Answered, waiting, or past its response time (as of `now`). */
export function noticeState(n: Pick<SupervisionNotice, 'response' | 'respond_by'>, now: number = Date.now()): NoticeState {
  if (n.response) return 'answered'
  return Date.parse(n.respond_by) < now ? 'overdue' : 'pending'
}

export const NOTICE_STATE_LABELS: Record<NoticeState, string> = {
  answered: '已回复',
  pending: '待回复',
  overdue: '超时未回复',
}

/** The notices addressed to `unitId` still waiting for its answer. */
export function pendingNoticesFor(order: Pick<Order, 'notices'>, unitId: number): SupervisionNotice[] {
  return (order.notices ?? []).filter((n) => n.unit_id === unitId && !n.response)
}

/** `4 小时`, `2 天`, `3 天 12 小时`. */
export function hoursText(h: number): string {
  if (!Number.isFinite(h) || h <= 0) return ''
  if (h < 24) return `${h} 小时`
  const d = Math.floor(h / 24)
  const r = h % 24
  return r ? `${d} 天 ${r} 小时` : `${d} 天`
}

/** Why a notice cannot be sent as filled in (field → message), or null. */
export function checkNotice(f: { content: string; respond_within_hours: number | null | undefined }): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!f.content.trim()) out.content = '请填写督办内容'
  const h = f.respond_within_hours
  if (h === null || h === undefined || !Number.isInteger(h) || h < 1 || h > MAX_RESPOND_HOURS)
    out.respond_within_hours = `回复时限须在 1 至 ${MAX_RESPOND_HOURS} 小时之间`
  return Object.keys(out).length ? out : null
}

export type BoardKey = keyof SupervisionBoard

export interface BoardSectionDef {
  key: BoardKey
  label: string
  hint: string
  tone: 'danger' | 'warning' | 'primary' | 'info'
}

/** The board's sections, in the order shown. */
export const BOARD_SECTIONS: readonly BoardSectionDef[] = [
  { key: 'overdue', label: '逾期工单', hint: '当前时限已过仍未办结', tone: 'danger' },
  { key: 'notices_pending', label: '督办待回复', hint: '已发督办，等待承办单位回复', tone: 'warning' },
  { key: 'notices_overdue', label: '督办超时', hint: '超过回复时限仍未回复', tone: 'danger' },
  { key: 'returned_twice', label: '存疑工单', hint: '被承办单位退回两次及以上', tone: 'warning' },
  { key: 'rehandled', label: '重办工单', hint: '回访不满意退回重办，仍在办理', tone: 'warning' },
  { key: 'repeats', label: '重复诉求', hint: '同一来电人或同一地址反复反映，仍在办理', tone: 'info' },
  { key: 'escalated', label: '转督办', hint: '两轮重办后仍不满意（近 30 天）', tone: 'danger' },
]

export function isBoardKey(s: unknown): s is BoardKey {
  return typeof s === 'string' && BOARD_SECTIONS.some((d) => d.key === s)
}

/** `共 1,234 件（列出前 200 件）` when the list is shorter than the total. */
export function sectionNote(total: number, listed: number): string {
  const t = total.toLocaleString('zh-CN')
  return listed < total ? `共 ${t} 件（列出前 ${listed.toLocaleString('zh-CN')} 件）` : `共 ${t} 件`
}
