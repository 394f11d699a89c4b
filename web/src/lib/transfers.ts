// Transfers between platforms (一键转办): the kinds of platform, where a transfer stands, which
// platforms the transfer dialog offers first (110 for an emergency, DOMAIN §8: 突发事件涉及人身财产安全
// 须先转110), the dialog's and the peer form's checks, and an order's transfer records.
import type { Order, OrderTransfer, Peer, TransferRecord } from '../api/types'

export const PEER_KINDS: readonly { code: string; label: string }[] = [
  { code: 'police_110', label: '110' },
  { code: 'utility', label: '公共事业热线' },
  { code: 'grid', label: '网格平台' },
  { code: 'hotline', label: '其他12345平台' },
]

/** The kind's code as the peers list writes it (an order's record may write `police110`). */
export function peerKindOf(kind: string | null | undefined): string {
  const k = (kind ?? '').trim()
  return k === 'police110' ? 'police_110' : k
}

export function peerKindLabel(kind: string | null | undefined): string {
  const k = peerKindOf(kind)
  return PEER_KINDS.find((x) => x.code === k)?.label ?? k
}

export const is110 = (kind: string | null | undefined) => peerKindOf(kind) === 'police_110'

type Tone = 'success' | 'warning' | 'danger' | 'info'

/** Where an outbound transfer stands (`Order.transfers[].state`). */
export const TRANSFER_STATES: Record<string, { label: string; tag: Tone }> = {
  requested: { label: '转办中', tag: 'warning' },
  accepted: { label: '对方已接收', tag: 'success' },
  failed: { label: '转办失败', tag: 'danger' },
}

export function transferStateLabel(state: string): string {
  return TRANSFER_STATES[state]?.label ?? state
}

export function transferStateTag(state: string): Tone {
  return TRANSFER_STATES[state]?.tag ?? 'info'
}

/** The delivery rows' states (GET /api/orders/{id}/transfers) as the order's: pending → requested, rejected → failed. */
export function recordState(row: Pick<TransferRecord, 'state' | 'direction'>): string {
  if (row.state === 'pending') return 'requested'
  if (row.state === 'rejected') return 'failed'
  return row.state
}

/** The hint (and the server's rule) for an emergency not yet sent to 110. */
export const EMERGENCY_HINT = '突发事件涉及人身财产安全，须先转110'

/** A transfer that still counts (requested or accepted). */
const live = (t: Pick<OrderTransfer, 'state'>) => t.state !== 'failed'

/** Whether the order must go to 110 before any other platform: an emergency with no live 110 transfer. */
export function needs110First(order: Pick<Order, 'flags' | 'transfers'>): boolean {
  return !!order.flags?.emergency && !(order.transfers ?? []).some((t) => live(t) && is110(t.kind))
}

export interface PeerChoice {
  peer: Peer
  /** Why it cannot be picked (already transferred there), or null. */
  disabled: string | null
}

/**
 * The platforms the transfer dialog lists: active ones; for an emergency, 110 first (otherwise as
 * the server lists them). One the order is already transferred to (and not failed) cannot be picked.
 */
export function peerChoices(peers: readonly Peer[], order: Pick<Order, 'flags' | 'transfers'>): PeerChoice[] {
  const active = peers.filter((p) => p.active)
  const ordered = order.flags?.emergency ? [...active.filter((p) => is110(p.kind)), ...active.filter((p) => !is110(p.kind))] : active
  const taken = new Set((order.transfers ?? []).filter(live).map((t) => t.peer_id))
  return ordered.map((peer) => ({ peer, disabled: taken.has(peer.id) ? '已转办' : null }))
}

/** The platform to choose before the agent does: the first 110 for an emergency that needs it, else none. */
export function defaultPeer(choices: readonly PeerChoice[], order: Pick<Order, 'flags' | 'transfers'>): number | undefined {
  if (!needs110First(order)) return undefined
  return choices.find((c) => !c.disabled && is110(c.peer.kind))?.peer.id
}

/** The transfer dialog before it is sent; the server checks the rest (422 on `peer_id`, `reason`). */
export function checkTransfer(f: { peer_id: number | undefined; reason: string }): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!f.peer_id) out.peer_id = '请选择对接平台'
  if (!f.reason.trim()) out.reason = '请填写转办原因'
  return Object.keys(out).length ? out : null
}

// ---- the peers (admin) ----

export interface PeerForm {
  code: string
  name: string
  kind: string
  url: string
  token: string
}

/** The platform form; the server checks the code's letters and the URL (422 on the field). */
export function checkPeer(f: PeerForm): Record<string, string> | null {
  const out: Record<string, string> = {}
  if (!f.code.trim()) out.code = '请填写对方平台代码'
  else if (!/^[0-9A-Za-z._-]+$/.test(f.code.trim())) out.code = '平台代码只能包含字母、数字和 - _ .'
  if (!f.name.trim()) out.name = '请填写平台名称'
  if (!PEER_KINDS.some((k) => k.code === f.kind)) out.kind = '请选择平台类型'
  if (!f.url.trim()) out.url = '请填写对方接口地址'
  if (!f.token.trim()) out.token = '请填写对方签发的令牌'
  return Object.keys(out).length ? out : null
}

// ---- an order's records ----

export interface TransferLine {
  key: string
  direction: 'out' | 'in'
  peer: string
  kind: string
  reason: string | null
  /** The order's state code (requested, accepted, failed). */
  state: string
  remote_ref: string | null
  remote_status: string | null
  close_on_accept: boolean | null
  at: string
  attempts: number | null
  last_error: string | null
}

/**
 * The order's transfers for the 转办记录 section: each outbound one as the order keeps it, with the
 * delivery attempts of its row, then those that came in from other platforms.
 */
export function transferLines(order: Pick<Order, 'transfers'>, rows: readonly TransferRecord[] = []): TransferLine[] {
  const byKey = new Map(rows.filter((r) => r.direction === 'out').map((r) => [r.key, r]))
  const out: TransferLine[] = (order.transfers ?? []).map((t) => {
    const row = byKey.get(t.id)
    return {
      key: t.id,
      direction: 'out',
      peer: t.peer,
      kind: peerKindOf(t.kind),
      reason: t.reason,
      state: t.state,
      remote_ref: t.remote_ref ?? row?.remote_ref ?? null,
      remote_status: t.remote_status,
      close_on_accept: t.close_on_accept,
      at: t.requested_at,
      attempts: row ? row.attempts : null,
      last_error: row?.last_error ?? null,
    }
  })
  const inbound: TransferLine[] = rows
    .filter((r) => r.direction === 'in')
    .map((r) => ({
      key: r.key,
      direction: 'in',
      peer: r.peer,
      kind: '',
      reason: null,
      state: recordState(r),
      remote_ref: r.remote_ref,
      remote_status: null,
      close_on_accept: null,
      at: r.created_at,
      attempts: null,
      last_error: null,
    }))
  return [...out, ...inbound]
}

/** Whether the order waits for a platform's answer (the detail page polls meanwhile). */
export function awaitingAnswer(order: Pick<Order, 'transfers'> | null | undefined): boolean {
  return (order?.transfers ?? []).some((t) => t.state === 'requested')
}

/** History kinds of transfers with their labels (the server gives the same as `label`). */
export const TRANSFER_EVENT_LABELS: Record<string, string> = {
  transfer_requested: '转办其他平台',
  transfer_accepted: '对方平台已接收',
  transfer_failed: '转办失败',
  transfer_status: '对方平台办理进展',
}

/** How an order was closed (`Order.closure`); the server sends the label too. */
export const CLOSURE_LABELS: Record<string, string> = {
  instant_answer: '即答办结',
  callback: '回访办结',
  without_callback: '免回访办结',
  transferred: '转办结',
}
