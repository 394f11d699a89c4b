// What each role's home page counts: one `GET /api/orders?…&limit=1` per card (its `total`).
import type { OrderFilters } from './query'

export interface HomeCard {
  key: string
  label: string
  filters: OrderFilters
  /** Where the card leads. */
  to: string
  tone: 'primary' | 'warning' | 'danger' | 'success' | 'info'
  hint?: string
}

const OPEN = ['pending_review', 'returned', 'dispatched', 'handling', 'replied', 'callback_pending']

function ordersLink(f: OrderFilters): string {
  const p = new URLSearchParams()
  if (f.status) p.set('status', f.status.join(','))
  if (f.overdue) p.set('overdue', 'true')
  if (f.due_within_hours) p.set('due_within_hours', String(f.due_within_hours))
  if (f.emergency) p.set('emergency', 'true')
  if (f.unit !== undefined) p.set('unit', String(f.unit))
  if (f.from) p.set('from', f.from)
  const qs = p.toString()
  return qs ? `/orders?${qs}` : '/orders'
}

export function homeCardsFor(roles: readonly string[], unitId: number, today: string): HomeCard[] {
  const cards: HomeCard[] = []
  const add = (c: Omit<HomeCard, 'to'> & { to?: string }) => {
    if (!cards.some((x) => x.key === c.key)) cards.push({ ...c, to: c.to ?? ordersLink(c.filters) })
  }
  const has = (r: string) => roles.includes(r)

  if (has('agent')) {
    add({ key: 'accepted_today', label: '今日受理', filters: { from: today }, tone: 'primary', to: '/accept', hint: '去受理' })
    add({ key: 'pending_review', label: '待审核', filters: { status: ['pending_review'] }, tone: 'warning' })
  }
  if (has('dispatcher')) {
    add({ key: 'pending_review', label: '待审核派单', filters: { status: ['pending_review'] }, tone: 'warning', to: '/review?tab=review' })
    add({ key: 'returned', label: '退回待派', filters: { status: ['returned'] }, tone: 'danger', to: '/review?tab=returned' })
    add({ key: 'replied', label: '待核验', filters: { status: ['replied'] }, tone: 'warning', to: '/review?tab=check' })
    add({ key: 'dispatch_soon', label: '派单 4 小时内到期', filters: { status: ['pending_review', 'returned'], due_within_hours: 4 }, tone: 'warning', to: '/review?tab=review' })
    add({ key: 'overdue', label: '全部逾期在办', filters: { status: OPEN, overdue: true }, tone: 'danger' })
  }
  if (has('handler') || has('unit_admin')) {
    add({ key: 'pending_sign', label: '待签收', filters: { unit: unitId, assignment_status: 'pending_sign' }, tone: 'warning', to: '/inbox?tab=pending_sign' })
    add({ key: 'handling', label: '办理中', filters: { unit: unitId, assignment_status: 'handling' }, tone: 'primary', to: '/inbox?tab=handling' })
    add({ key: 'unit_soon', label: '24 小时内到期', filters: { unit: unitId, assignment_status: 'handling', due_within_hours: 24 }, tone: 'warning', to: '/inbox?tab=handling' })
    add({ key: 'unit_overdue', label: '已逾期', filters: { unit: unitId, assignment_status: 'handling', overdue: true }, tone: 'danger', to: '/inbox?tab=overdue' })
  }
  if (has('callback')) {
    add({ key: 'callback_pending', label: '待回访', filters: { status: ['callback_pending'] }, tone: 'warning', to: '/callback?tab=pending' })
    add({ key: 'callback_overdue', label: '回访逾期', filters: { status: ['callback_pending'], overdue: true }, tone: 'danger', to: '/callback?tab=overdue' })
  }
  if (has('supervisor') || has('leader')) {
    add({ key: 'overdue', label: '逾期在办', filters: { status: OPEN, overdue: true }, tone: 'danger', to: '/supervise?tab=overdue' })
    add({ key: 'soon', label: '24 小时内到期', filters: { status: OPEN, due_within_hours: 24 }, tone: 'warning', to: '/supervise?tab=soon' })
    add({ key: 'emergency', label: '突发在办', filters: { status: OPEN, emergency: true }, tone: 'danger', to: '/supervise?tab=emergency' })
    add({ key: 'accepted_today', label: '今日受理', filters: { from: today }, tone: 'primary' })
    add({ key: 'open', label: '全部在办', filters: { status: OPEN }, tone: 'info' })
  }
  if (has('admin') && cards.length === 0) {
    add({ key: 'accepted_today', label: '今日受理', filters: { from: today }, tone: 'primary' })
    add({ key: 'open', label: '全部在办', filters: { status: OPEN }, tone: 'info' })
    add({ key: 'overdue', label: '逾期在办', filters: { status: OPEN, overdue: true }, tone: 'danger' })
  }
  return cards
}

/** The orders a role should look at first (soonest deadline), or null. */
export function urgentFor(roles: readonly string[], unitId: number): { label: string; filters: OrderFilters } | null {
  const has = (r: string) => roles.includes(r)
  if (has('handler') || has('unit_admin'))
    return { label: '本单位最紧急的工单', filters: { unit: unitId, assignment_status: 'handling', sort: 'due_at' } }
  if (has('dispatcher'))
    return { label: '最紧急的待办（审核、退回、核验）', filters: { status: ['pending_review', 'returned', 'replied'], sort: 'due_at' } }
  if (has('callback')) return { label: '最紧急的待回访', filters: { status: ['callback_pending'], sort: 'due_at' } }
  if (has('supervisor') || has('leader') || has('admin'))
    return { label: '最紧急的在办工单', filters: { status: OPEN, sort: 'due_at' } }
  if (has('agent')) return { label: '最近受理', filters: { sort: '-accepted_at' } }
  return null
}
