import { describe, expect, it } from 'vitest'
import type { Order, OrderTransfer, Peer, TransferRecord } from '../api/types'
import { eventLabel } from './webhooks'
import {
  awaitingAnswer,
  checkPeer,
  checkTransfer,
  CLOSURE_LABELS,
  defaultPeer,
  EMERGENCY_HINT,
  needs110First,
  peerChoices,
  peerKindLabel,
  peerKindOf,
  recordState,
  TRANSFER_EVENT_LABELS,
  transferLines,
  transferStateLabel,
  transferStateTag,
} from './transfers'

const peer = (id: number, kind: string, p: Partial<Peer> = {}): Peer => ({
  id,
  code: `p${id}`,
  name: `平台${id}`,
  kind,
  kind_label: '',
  active: true,
  created_at: '2026-12-01T00:00:00Z',
  ...p,
})

const transfer = (peer_id: number, kind: string, state: string, t: Partial<OrderTransfer> = {}): OrderTransfer => ({
  id: `1-7-${peer_id}`,
  peer_id,
  peer: `平台${peer_id}`,
  kind,
  reason: '请处置',
  close_on_accept: true,
  state,
  remote_ref: null,
  remote_status: null,
  requested_at: '2026-12-01T01:00:00Z',
  ...t,
})

const order = (emergency: boolean, transfers: OrderTransfer[] = []) =>
  ({ flags: { emergency, complex: false, repeat: false, confidential: false, needs_contact: false }, transfers }) as Pick<Order, 'flags' | 'transfers'>

const peers = [peer(1, 'utility'), peer(2, 'police_110'), peer(3, 'grid'), peer(4, 'police_110', { active: false }), peer(5, 'hotline')]

describe('platform kinds and transfer states', () => {
  it('names the four kinds, whichever way the kind is written', () => {
    expect(peerKindLabel('police_110')).toBe('110')
    expect(peerKindLabel('police110')).toBe('110')
    expect(peerKindLabel('utility')).toBe('公共事业热线')
    expect(peerKindLabel('grid')).toBe('网格平台')
    expect(peerKindLabel('hotline')).toBe('其他12345平台')
    expect(peerKindLabel('fire')).toBe('fire')
    expect(peerKindOf('police110')).toBe('police_110')
  })
  it('labels where a transfer stands', () => {
    expect(transferStateLabel('requested')).toBe('转办中')
    expect(transferStateLabel('accepted')).toBe('对方已接收')
    expect(transferStateLabel('failed')).toBe('转办失败')
    expect(transferStateTag('accepted')).toBe('success')
    expect(transferStateTag('failed')).toBe('danger')
    expect(transferStateTag('odd')).toBe('info')
    expect(recordState({ state: 'pending', direction: 'out' })).toBe('requested')
    expect(recordState({ state: 'rejected', direction: 'out' })).toBe('failed')
    expect(recordState({ state: 'accepted', direction: 'in' })).toBe('accepted')
  })
  it('labels the new history kinds and the closure', () => {
    expect(TRANSFER_EVENT_LABELS).toEqual({
      transfer_requested: '转办其他平台',
      transfer_accepted: '对方平台已接收',
      transfer_failed: '转办失败',
      transfer_status: '对方平台办理进展',
    })
    expect(eventLabel('order.transfer_accepted')).toBe('对方平台已接收')
    expect(CLOSURE_LABELS.transferred).toBe('转办结')
  })
})

describe('the transfer dialog', () => {
  it('lists active platforms as the server does for an ordinary order', () => {
    const c = peerChoices(peers, order(false))
    expect(c.map((x) => x.peer.id)).toEqual([1, 2, 3, 5])
    expect(c.every((x) => x.disabled === null)).toBe(true)
    expect(needs110First(order(false))).toBe(false)
    expect(defaultPeer(c, order(false))).toBeUndefined()
  })
  it('lists 110 first for an emergency, chooses it and states the rule', () => {
    const o = order(true)
    const c = peerChoices(peers, o)
    expect(c.map((x) => x.peer.id)).toEqual([2, 1, 3, 5])
    expect(needs110First(o)).toBe(true)
    expect(defaultPeer(c, o)).toBe(2)
    expect(EMERGENCY_HINT).toBe('突发事件涉及人身财产安全，须先转110')
  })
  it('lifts the rule once a 110 transfer stands, not after a failed one', () => {
    expect(needs110First(order(true, [transfer(2, 'police_110', 'requested')]))).toBe(false)
    expect(needs110First(order(true, [transfer(2, 'police110', 'accepted')]))).toBe(false)
    expect(needs110First(order(true, [transfer(2, 'police_110', 'failed')]))).toBe(true)
    expect(needs110First(order(true, [transfer(1, 'utility', 'accepted')]))).toBe(true)
  })
  it('does not offer a platform the order is already transferred to', () => {
    const o = order(true, [transfer(2, 'police_110', 'requested'), transfer(1, 'utility', 'failed')])
    const c = peerChoices(peers, o)
    expect(c.find((x) => x.peer.id === 2)?.disabled).toBe('已转办')
    expect(c.find((x) => x.peer.id === 1)?.disabled).toBeNull()
    expect(defaultPeer(c, o)).toBeUndefined()
  })
  it('needs a platform and a reason', () => {
    expect(checkTransfer({ peer_id: undefined, reason: ' ' })).toEqual({ peer_id: '请选择对接平台', reason: '请填写转办原因' })
    expect(checkTransfer({ peer_id: 2, reason: '涉及人身安全' })).toBeNull()
  })
})

describe('the platform form', () => {
  it('checks what the server would refuse', () => {
    expect(checkPeer({ code: '', name: '', kind: '', url: '', token: '' })).toEqual({
      code: '请填写对方平台代码',
      name: '请填写平台名称',
      kind: '请选择平台类型',
      url: '请填写对方接口地址',
      token: '请填写对方签发的令牌',
    })
    expect(checkPeer({ code: 'ordos 110', name: 'x', kind: 'police_110', url: 'https://x', token: 't' })).toEqual({
      code: '平台代码只能包含字母、数字和 - _ .',
    })
    expect(checkPeer({ code: 'ordos-110', name: '市公安局110指挥中心', kind: 'police_110', url: 'https://110.example.gov.cn', token: 'jst_x' })).toBeNull()
  })
})

describe('an order’s transfer records', () => {
  const row = (key: string, r: Partial<TransferRecord> = {}): TransferRecord => ({
    id: 1,
    peer_id: 2,
    peer: '平台2',
    direction: 'out',
    key,
    state: 'pending',
    remote_ref: null,
    attempts: 2,
    last_error: 'HTTP 503',
    synced_seq: 0,
    created_at: '2026-12-01T01:00:00Z',
    ...r,
  })
  it('joins the order’s record with its delivery, then lists what came in', () => {
    const t = transfer(2, 'police110', 'accepted', { remote_ref: '2026-12-01-000009', remote_status: '待审核' })
    const lines = transferLines({ transfers: [t] }, [row(t.id, { state: 'accepted' }), row('9-1-x', { direction: 'in', peer: '兄弟平台', state: 'accepted', remote_ref: 'B-1' })])
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ direction: 'out', kind: 'police_110', state: 'accepted', remote_ref: '2026-12-01-000009', remote_status: '待审核', attempts: 2 })
    expect(lines[1]).toMatchObject({ direction: 'in', peer: '兄弟平台', state: 'accepted', remote_ref: 'B-1', close_on_accept: null })
    expect(transferLines({ transfers: undefined }, [])).toEqual([])
  })
  it('waits while a platform has not answered', () => {
    expect(awaitingAnswer({ transfers: [transfer(2, 'police_110', 'requested')] })).toBe(true)
    expect(awaitingAnswer({ transfers: [transfer(2, 'police_110', 'accepted')] })).toBe(false)
    expect(awaitingAnswer(null)).toBe(false)
  })
})
