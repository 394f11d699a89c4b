import { describe, expect, it } from 'vitest'
import type { Me, Order } from '../api/types'
import { availableActions } from './actions'
import { checkAttachment } from './attachments'
import { filenameFromDisposition, formatBytes, percentOf } from './download'
import { describeEvent, eventTone } from './events'
import { holidayName } from './holidays'
import { homeCardsFor } from './home'
import { CursorPager } from './pager'
import { describeLimit, describeWhen } from './timeRules'
import { buildTree, keyPathOf, pathOf, subtreeIds } from './tree'

describe('CursorPager', () => {
  it('walks forward with next_cursor and back with the kept cursors', () => {
    const p = new CursorPager(20)
    expect(p.cursor).toBeNull()
    p.loaded({ total: 45, total_capped: false, next_cursor: 'c1' })
    expect(p.pageCount).toBe(3)
    expect(p.position).toBe('第 1 / 3 页')
    expect(p.next()).toBe(true)
    expect(p.cursor).toBe('c1')
    p.loaded({ total: 999, total_capped: false, next_cursor: 'c2' })
    expect(p.total).toBe(45) // the total is kept from the first page
    p.next()
    p.loaded({ total: 45, total_capped: false, next_cursor: null })
    expect(p.hasNext).toBe(false)
    expect(p.next()).toBe(false)
    p.prev()
    expect(p.cursor).toBe('c1')
    p.prev()
    expect(p.cursor).toBeNull()
    expect(p.prev()).toBe(false)
  })
  it('shows a capped page count as open-ended', () => {
    const p = new CursorPager(50)
    p.loaded({ total: 100000, total_capped: true, next_cursor: 'x' })
    expect(p.position).toBe('第 1 / 2000+ 页')
  })
})

describe('downloads', () => {
  it('formats sizes and percentages', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(2048)).toBe('2.0 KB')
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB')
    expect(percentOf({ loaded: 50, total: 200 })).toBe(25)
    expect(percentOf({ loaded: 50, total: null })).toBeNull()
    expect(percentOf({ loaded: 300, total: 200 })).toBe(100)
  })
  it('reads file names from Content-Disposition', () => {
    expect(filenameFromDisposition(`attachment; filename*=UTF-8''%E5%B7%A5%E5%8D%95.xlsx`, 'x')).toBe('工单.xlsx')
    expect(filenameFromDisposition('attachment; filename="orders.xlsx"', 'x')).toBe('orders.xlsx')
    expect(filenameFromDisposition(null, 'fallback.xlsx')).toBe('fallback.xlsx')
  })
  it('checks attachments like the server', () => {
    expect(checkAttachment('现场.JPG', 1000)).toBeNull()
    expect(checkAttachment('a.exe', 1000)).toMatch('不支持')
    expect(checkAttachment('big.pdf', 11 * 1024 * 1024)).toMatch('10 MB')
  })
})

describe('trees', () => {
  const cats = [
    { code: '01', parent: null, name: '城乡建设' },
    { code: '01.05', parent: '01', name: '物业管理' },
    { code: '01.05.03', parent: '01.05', name: '物业服务质量' },
    { code: '09.01', parent: '09', name: '孤儿' },
  ]
  it('builds a forest and keeps orphans as roots', () => {
    const t = buildTree(cats, (c) => c.code, (c) => c.parent, (c) => c.name)
    expect(t.map((n) => n.value)).toEqual(['01', '09.01'])
    expect(t[0].children?.[0].children?.[0].label).toBe('物业服务质量')
  })
  it('gives label and key paths', () => {
    const m = new Map(cats.map((c) => [c.code, c] as const))
    expect(pathOf(m, '01.05.03', (c) => c.parent, (c) => c.name)).toEqual(['城乡建设', '物业管理', '物业服务质量'])
    expect(keyPathOf(m, '01.05.03', (c) => c.parent)).toEqual(['01', '01.05', '01.05.03'])
    expect(pathOf(m, 'missing', (c) => c.parent, (c) => c.name)).toEqual([])
  })
  it('finds a subtree whatever the order of the items', () => {
    const units = [
      { id: 5, parent_id: 4 },
      { id: 1, parent_id: null },
      { id: 2, parent_id: 1 },
      { id: 4, parent_id: 2 },
      { id: 3, parent_id: 1 },
    ]
    expect([...subtreeIds(units, 2)].sort()).toEqual([2, 4, 5])
    expect(subtreeIds(units, 1).size).toBe(5)
    expect([...subtreeIds(units, 9)]).toEqual([9])
  })
})

const me = (roles: string[], unit_id = 1, unit_kind = 'city_centre'): Me => ({
  user_id: 1,
  tenant_id: 1,
  username: 'u',
  display_name: 'u',
  unit_id,
  unit_name: '',
  unit_kind,
  roles,
})

function order(status: string, assignments: Partial<Order['assignments'][0]>[] = [], extra: Partial<Order> = {}): Order {
  return {
    id: 1,
    number: 'n',
    status: { code: status, label: status },
    centre_id: 1,
    flags: { emergency: false, complex: false, repeat: false, confidential: false, needs_contact: false },
    extension: null,
    assignments: assignments.map((a, i) => ({
      no: i + 1,
      unit_id: 2,
      role: { code: 'lead', label: '主办' },
      parent: null,
      status: { code: 'pending_sign', label: '' },
      dispatched_at: '',
      signed_at: null,
      replied_at: null,
      reply: null,
      return_reason: null,
      ...a,
    })),
    ...extra,
  } as Order
}

describe('availableActions', () => {
  it('lets the dispatcher dispatch pending orders', () => {
    const a = availableActions(order('pending_review'), me(['dispatcher']))
    expect(a).toContain('dispatch')
    expect(a).toContain('invalidate')
    expect(a).not.toContain('sign')
  })
  it('lets the handling unit sign, then reply', () => {
    const h = me(['handler'], 2, 'department')
    expect(availableActions(order('dispatched', [{}]), h)).toEqual(expect.arrayContaining(['sign', 'return']))
    const handling = order('handling', [{ status: { code: 'handling', label: '' } }])
    expect(availableActions(handling, h)).toEqual(expect.arrayContaining(['reply', 'extension', 'sub_dispatch', 'note']))
    expect(availableActions(handling, h)).not.toContain('sign')
  })
  it('offers nothing to another unit', () => {
    expect(availableActions(order('dispatched', [{}]), me(['handler'], 3, 'department'))).toEqual([])
  })
  it('hides extension for emergencies and after one request', () => {
    const h = me(['handler'], 2, 'department')
    const a = [{ status: { code: 'handling', label: '' } }]
    expect(availableActions(order('handling', a, { flags: { emergency: true } as Order['flags'] }), h)).not.toContain('extension')
    expect(availableActions(order('handling', a, { extension: { approved: null } as Order['extension'] }), h)).not.toContain('extension')
  })
  it('offers check, extension review and callback to the right roles', () => {
    expect(availableActions(order('replied'), me(['dispatcher']))).toContain('check')
    expect(availableActions(order('callback_pending'), me(['callback']))).toEqual(expect.arrayContaining(['callback', 'close_no_callback']))
    expect(availableActions(order('callback_pending'), me(['dispatcher']))).not.toContain('callback')
    const ext = order('handling', [], { extension: { approved: null } as Order['extension'] })
    expect(availableActions(ext, me(['dispatcher']))).toContain('extension_review')
  })
  it('offers the transfer (转办) to agents and dispatchers while the order waits for dispatch', () => {
    for (const st of ['pending_review', 'returned']) {
      expect(availableActions(order(st), me(['agent']))).toContain('transfer')
      expect(availableActions(order(st), me(['dispatcher']))).toContain('transfer')
    }
    expect(availableActions(order('dispatched', [{}]), me(['dispatcher']))).not.toContain('transfer')
    expect(availableActions(order('pending_review'), me(['callback']))).not.toContain('transfer')
    expect(availableActions(order('pending_review'), me(['agent'], 5, 'district_centre'))).not.toContain('transfer')
  })
  it('offers no commands on closed orders', () => {
    expect(availableActions(order('closed'), me(['dispatcher', 'callback']))).toEqual([])
  })
})

describe('event details', () => {
  const unit = (id: number) => (id === 2 ? '住建局' : `#${id}`)
  const fmt = (s: string) => s.slice(0, 10)
  it('names dispatch targets and deadlines', () => {
    const lines = describeEvent(
      { kind: 'dispatched', reason: null, payload: { targets: [[2, 'lead'], [17, 'co']], reply: { due: '2026-11-25T09:30:00Z' }, note: '请配合' } },
      unit,
      fmt,
    )
    expect(lines).toEqual(['派至 住建局（主办）、#17（协办）', '反馈时限 2026-11-25', '说明：请配合'])
  })
  it('describes callbacks and reminders', () => {
    expect(describeEvent({ kind: 'called_back', reason: null, payload: { satisfaction: 'satisfied', resolved: true } }, unit, fmt)).toEqual([
      '满意，已解决',
    ])
    expect(describeEvent({ kind: 'reminder_sent', reason: null, payload: { stage: 'check', minutes_left: 180 } }, unit, fmt)).toEqual([
      '核验时限剩余约 3 小时',
    ])
  })
  it('describes supervision notices, their answers and unanswered callbacks', () => {
    const notice = { no: 1, kind: 'supervision', level: 'key', unit_id: 2, content: '请上报进展', respond_by: '2026-11-26T09:30:00Z' }
    expect(describeEvent({ kind: 'supervised', reason: '请上报进展', payload: { type: 'supervised', notice } }, unit, fmt)).toEqual([
      '重点督办，致 住建局',
      '请上报进展',
      '回复时限 2026-11-26',
    ])
    expect(describeEvent({ kind: 'notice_responded', reason: '已整改', payload: { no: 1, content: '已整改' } }, unit, fmt)).toEqual([
      '回复第 1 号督办通知',
      '已整改',
    ])
    expect(describeEvent({ kind: 'callback_not_reached', reason: '关机', payload: { attempt: 3, note: '关机' } }, unit, fmt)).toEqual([
      '第 3 次未接通',
      '关机',
    ])
    expect(
      describeEvent({ kind: 'called_back', reason: null, payload: { satisfaction: 'dissatisfied', resolved: false, escalated: true } }, unit, fmt),
    ).toEqual(['不满意，未解决', '重办后仍不满意：办结并转督办'])
  })
  it('describes transfers to other platforms and their answers', () => {
    const t = { id: '1-7-k', peer_id: 2, peer: '市公安局110指挥中心', kind: 'police110', reason: '涉及人身安全', close_on_accept: true, state: 'requested' }
    expect(describeEvent({ kind: 'transfer_requested', reason: '涉及人身安全', payload: { type: 'transfer_requested', transfer: t } }, unit, fmt)).toEqual([
      '转至 市公安局110指挥中心（110）',
      '原因：涉及人身安全',
      '对方接收后办结本单',
    ])
    expect(describeEvent({ kind: 'transfer_accepted', reason: null, payload: { id: '1-7-k', remote_ref: '2026-12-01-000009' } }, unit, fmt)).toEqual([
      '对方编号 2026-12-01-000009',
    ])
    expect(describeEvent({ kind: 'transfer_failed', reason: '对方平台拒收', payload: { id: '1-7-k', reason: '对方平台拒收' } }, unit, fmt)).toEqual([
      '原因：对方平台拒收',
    ])
    expect(describeEvent({ kind: 'transfer_status', reason: '民警已到场处置', payload: { id: '1-7-k', status: '已出警', note: '民警已到场处置' } }, unit, fmt)).toEqual([
      '对方进展：已出警',
      '民警已到场处置',
    ])
    expect(eventTone('transfer_failed')).toBe('danger')
    expect(eventTone('transfer_accepted')).toBe('success')
  })
  it('adds the reason once', () => {
    expect(describeEvent({ kind: 'returned', reason: '不属于本单位', payload: { reason: '不属于本单位' } }, unit, fmt)).toEqual([
      '原因：不属于本单位',
    ])
  })
})

describe('home cards', () => {
  it('counts the unit inbox for handlers', () => {
    const c = homeCardsFor(['handler'], 2, '2026-11-25')
    expect(c.map((x) => x.key)).toEqual(['pending_sign', 'handling', 'unit_soon', 'unit_overdue'])
    expect(c[0].filters).toEqual({ unit: 2, assignment_status: 'pending_sign' })
  })
  it('links orders cards to a filtered search', () => {
    const c = homeCardsFor(['supervisor'], 1, '2026-11-25').find((x) => x.key === 'accepted_today')!
    expect(c.to).toBe('/orders?from=2026-11-25')
  })
  it('does not repeat cards for several roles', () => {
    const keys = homeCardsFor(['agent', 'dispatcher'], 1, '2026-11-25').map((x) => x.key)
    expect(new Set(keys).size).toBe(keys.length)
  })
})

describe('time rules in words', () => {
  it('describes limits and conditions', () => {
    expect(describeLimit({ unit: 'working_days', value: 3 })).toBe('3 个工作日')
    expect(describeLimit({ unit: 'clock_minutes', value: 30 })).toBe('30 分钟')
    expect(describeWhen({})).toBe('其他所有诉求')
    expect(describeWhen({ emergency: true })).toBe('突发')
    expect(describeWhen({ request_types: ['consultation'] }, () => '咨询')).toBe('咨询')
  })
})

describe('holiday names', () => {
  it('translates the data set names', () => {
    expect(holidayName("New Year's Day")).toBe('元旦')
    expect(holidayName('National Day, Mid-autumn Festival')).toBe('国庆节、中秋节')
    expect(holidayName('元旦')).toBe('元旦')
  })
})
