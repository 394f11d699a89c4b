import { describe, expect, it } from 'vitest'
import type { Order, SupervisionNotice } from '../api/types'
import { availableActions } from './actions'
import {
  BOARD_SECTIONS,
  checkNotice,
  hoursText,
  isBoardKey,
  levelLabel,
  noticeKindLabel,
  noticeState,
  pendingNoticesFor,
  sectionNote,
} from './supervision'

const notice = (n: Partial<SupervisionNotice>): SupervisionNotice => ({
  no: 1,
  kind: 'supervision',
  level: 'key',
  unit_id: 2,
  content: '请于明日前上报整改进展',
  respond_by: '2026-03-02T00:00:00Z',
  issued_at: '2026-03-01T00:00:00Z',
  issued_by: 7,
  response: null,
  ...n,
})

describe('supervision notices', () => {
  it('names kinds and levels as the API codes them', () => {
    expect(noticeKindLabel('reminder')).toBe('提示单')
    expect(noticeKindLabel('supervision')).toBe('督办单')
    expect(levelLabel('daily')).toBe('日常督办')
    expect(levelLabel('key')).toBe('重点督办')
    expect(levelLabel('task_force')).toBe('专班调度')
    expect(levelLabel('other')).toBe('other')
  })
  it('tells answered, waiting and late notices apart', () => {
    const before = Date.parse('2026-03-01T12:00:00Z')
    const after = Date.parse('2026-03-02T00:00:01Z')
    expect(noticeState(notice({}), before)).toBe('pending')
    expect(noticeState(notice({}), after)).toBe('overdue')
    expect(noticeState(notice({ response: { content: '已整改', at: '2026-03-03T00:00:00Z', by: 3 } }), after)).toBe('answered')
  })
  it('finds what a unit still has to answer', () => {
    const o = {
      notices: [notice({ no: 1 }), notice({ no: 2, unit_id: 5 }), notice({ no: 3, response: { content: 'x', at: '', by: 1 } })],
    }
    expect(pendingNoticesFor(o, 2).map((n) => n.no)).toEqual([1])
    expect(pendingNoticesFor(o, 5).map((n) => n.no)).toEqual([2])
    expect(pendingNoticesFor(o, 9)).toEqual([])
    expect(pendingNoticesFor({ notices: undefined as unknown as SupervisionNotice[] }, 2)).toEqual([])
  })
  it('checks the content and the response time before sending', () => {
    expect(checkNotice({ content: '请整改', respond_within_hours: 24 })).toBeNull()
    expect(checkNotice({ content: ' ', respond_within_hours: 24 })).toEqual({ content: '请填写督办内容' })
    expect(checkNotice({ content: 'x', respond_within_hours: 0 })).toHaveProperty('respond_within_hours')
    expect(checkNotice({ content: 'x', respond_within_hours: 241 })).toHaveProperty('respond_within_hours')
    expect(checkNotice({ content: 'x', respond_within_hours: undefined })).toHaveProperty('respond_within_hours')
  })
  it('writes hours as hours or days', () => {
    expect(hoursText(4)).toBe('4 小时')
    expect(hoursText(24)).toBe('1 天')
    expect(hoursText(72)).toBe('3 天')
    expect(hoursText(36)).toBe('1 天 12 小时')
  })
})

describe('the board', () => {
  it('has every section of the API, each once', () => {
    const keys = BOARD_SECTIONS.map((s) => s.key)
    expect(new Set(keys).size).toBe(keys.length)
    expect([...keys].sort()).toEqual(['escalated', 'notices_overdue', 'notices_pending', 'overdue', 'rehandled', 'repeats', 'returned_twice'])
    expect(isBoardKey('repeats')).toBe(true)
    expect(isBoardKey('soon')).toBe(false)
  })
  it('says when a section lists fewer orders than it has', () => {
    expect(sectionNote(3, 3)).toBe('共 3 件')
    expect(sectionNote(1234, 200)).toBe('共 1,234 件（列出前 200 件）')
  })
})

describe('supervision and callback commands', () => {
  const me = (roles: string[], unit_id = 1) => ({ user_id: 1, tenant_id: 1, username: 'u', display_name: '', unit_id, unit_name: '', unit_kind: unit_id === 1 ? 'city_centre' : 'department', roles })
  const order = (status: string, extra: Partial<Order> = {}): Order =>
    ({
      id: 1,
      status: { code: status, label: status },
      centre_id: 1,
      flags: { emergency: false, complex: false, repeat: false, confidential: false, needs_contact: false },
      extension: null,
      assignments: [{ no: 1, unit_id: 2, role: { code: 'lead', label: '主办' }, parent: null, status: { code: 'handling', label: '' }, dispatched_at: '', signed_at: null, replied_at: null, reply: null, return_reason: null }],
      notices: [],
      callback_attempts: 0,
      ...extra,
    }) as Order

  it('lets a centre supervisor supervise an order a unit handles, not a closed one', () => {
    expect(availableActions(order('handling'), me(['supervisor']))).toContain('supervise')
    expect(availableActions(order('handling', { assignments: [] }), me(['supervisor']))).not.toContain('supervise')
    expect(availableActions(order('closed'), me(['supervisor']))).not.toContain('supervise')
    expect(availableActions(order('handling'), me(['leader']))).not.toContain('supervise')
    expect(availableActions(order('handling'), me(['dispatcher']))).not.toContain('supervise')
  })
  it('lets the addressed unit answer its notice, once', () => {
    const o = order('handling', { notices: [notice({ unit_id: 2 })] })
    expect(availableActions(o, me(['handler'], 2))).toContain('notice_response')
    expect(availableActions(o, me(['handler'], 3))).not.toContain('notice_response')
    const answered = order('handling', { notices: [notice({ unit_id: 2, response: { content: 'x', at: '', by: 1 } })] })
    expect(availableActions(answered, me(['handler'], 2))).not.toContain('notice_response')
  })
  it('offers 未接通 to the callback staff while a callback is due', () => {
    expect(availableActions(order('callback_pending'), me(['callback']))).toEqual(expect.arrayContaining(['callback', 'callback_attempt', 'close_no_callback']))
    expect(availableActions(order('callback_pending'), me(['dispatcher']))).not.toContain('callback_attempt')
    expect(availableActions(order('closed'), me(['callback']))).not.toContain('callback_attempt')
  })
})
