// Which commands to offer on an order. This mirrors the lifecycle rules (crates/core/src/order/
// decide.rs) only to hide buttons that cannot work; the server decides and explains refusals.
import type { Assignment, Me, Order } from '../api/types'
import { pendingNoticesFor } from './supervision'

export type ActionKey =
  | 'sign'
  | 'return'
  | 'sub_dispatch'
  | 'extension'
  | 'reply'
  | 'note'
  | 'dispatch'
  | 'redispatch'
  | 'amend'
  | 'instant_close'
  | 'invalidate'
  | 'withdraw'
  | 'merge'
  | 'extension_review'
  | 'check'
  | 'callback'
  | 'close_no_callback'
  | 'callback_attempt'
  | 'supervise'
  | 'notice_response'
  | 'transfer'

export const ACTION_LABELS: Record<ActionKey, string> = {
  sign: '签收',
  return: '退单',
  sub_dispatch: '下派',
  extension: '申请延期',
  reply: '办理反馈',
  note: '办理记录',
  dispatch: '派单',
  redispatch: '二级派单',
  amend: '修改分类',
  instant_close: '即答办结',
  invalidate: '作废',
  withdraw: '撤单',
  merge: '合并',
  extension_review: '延期审批',
  check: '核验',
  callback: '回访',
  close_no_callback: '免回访办结',
  callback_attempt: '未接通',
  supervise: '督办',
  notice_response: '回复督办',
  transfer: '转办',
}

/** Callback attempts that do not reach the citizen before the order closes without callback. */
export const MAX_CALLBACK_ATTEMPTS = 3
/** Rounds of re-handling after an unsatisfied callback; after them the order goes to supervision. */
export const MAX_REHANDLE_ROUNDS = 2

const OPEN = ['pending_sign', 'handling']
const TERMINAL = ['closed', 'withdrawn', 'invalid', 'merged']

/** The assignment of the user's unit that is still open (or the latest one of that unit). */
export function myAssignment(order: Order, me: Me): Assignment | undefined {
  const mine = order.assignments.filter((a) => a.unit_id === me.unit_id)
  return mine.find((a) => OPEN.includes(a.status.code)) ?? mine[mine.length - 1]
}

export function availableActions(order: Order, me: Me): ActionKey[] {
  const roles = new Set(me.roles)
  const has = (...r: string[]) => r.some((x) => roles.has(x))
  const st = order.status.code
  const centre = me.unit_id === order.centre_id
  const out: ActionKey[] = []
  const held = myAssignment(order, me)
  const heldOpen = held && OPEN.includes(held.status.code)
  const unitStaff = has('handler', 'unit_admin', 'dispatcher')

  if (held && heldOpen && unitStaff && !centre) {
    if (held.status.code === 'pending_sign') out.push('sign')
    out.push('return')
    if (held.status.code === 'handling') {
      if (me.unit_kind === 'district_centre' && has('dispatcher')) out.push('redispatch')
      if (has('handler', 'unit_admin')) out.push('sub_dispatch')
      if (
        has('handler', 'unit_admin') &&
        held.role.code === 'lead' &&
        !order.extension &&
        !order.flags.emergency
      )
        out.push('extension')
      out.push('reply')
    } else if (me.unit_kind === 'district_centre' && has('dispatcher')) {
      out.push('redispatch')
    }
  }
  if (centre) {
    if (['pending_review', 'returned'].includes(st)) {
      if (has('dispatcher')) out.push('dispatch')
      if (has('dispatcher', 'agent')) out.push('amend')
      if (st === 'pending_review' && has('dispatcher', 'agent')) out.push('instant_close')
      // 一键转办 to 110, a utility hotline, the grid or another 12345 platform.
      if (has('dispatcher', 'agent')) out.push('transfer')
      if (has('dispatcher')) out.push('invalidate', 'merge')
    }
    if (st === 'handling' && has('dispatcher') && order.extension && order.extension.approved === null)
      out.push('extension_review')
    if (st === 'replied' && has('dispatcher')) out.push('check')
    if (st === 'callback_pending') {
      if (has('callback')) out.push('callback', 'callback_attempt')
      if (has('dispatcher', 'callback')) out.push('close_no_callback')
    }
    if (['pending_review', 'returned', 'dispatched', 'handling', 'replied'].includes(st) && has('agent', 'dispatcher'))
      out.push('withdraw')
  }
  // 督办: a centre supervisor, once a unit handles the order.
  if (centre && has('supervisor') && !TERMINAL.includes(st) && order.assignments.length > 0) out.push('supervise')
  // The unit a notice is addressed to answers it.
  if (has('handler', 'unit_admin') && pendingNoticesFor(order, me.unit_id).length > 0) out.push('notice_response')
  if (!TERMINAL.includes(st)) {
    const noteRoles = has('handler', 'unit_admin', 'dispatcher', 'agent', 'callback', 'supervisor')
    if (noteRoles && (centre || heldOpen)) out.push('note')
  }
  return out
}
