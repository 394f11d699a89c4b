import { describe, expect, it } from 'vitest'
import type { CallStats, MissedCall } from '../api/types'
import {
  appendPage,
  attemptsText,
  CALLBACK_OUTCOMES,
  callCards,
  callFigures,
  checkCallback,
  connectCard,
  durationText,
  isMissedStatus,
  lastAttempt,
  MISSED_ACTION_LABELS,
  missedActionLabel,
  missedActionTone,
  missedFigures,
  missedResultLabel,
  missedResultTag,
  nextAfter,
  parseOrderRef,
  secondsText,
  waitedMs,
  waitingLevel,
  waitingText,
} from './telephony'

const item = (id: number, m: Partial<MissedCall> = {}): MissedCall => ({
  id,
  caller: '13800138000',
  caller_masked: false,
  first_call_id: `c-${id}`,
  missed: 1,
  first_at: '2026-12-01T01:00:00Z',
  last_at: '2026-12-01T01:00:00Z',
  status: 'pending',
  result: null,
  attempts: 0,
  max_attempts: 3,
  order_id: null,
  closed_at: null,
  ...m,
})

const stats = (s: Partial<CallStats> = {}): CallStats => ({
  offered: 10,
  answered: 8,
  abandoned: 2,
  waiting: 0,
  connect_rate: 0.8,
  service_level: 0.75,
  service_level_s: 20,
  avg_answer_s: 8.46,
  max_wait_s: 95,
  avg_abandon_s: 31.2,
  avg_talk_s: 185,
  missed: { items: 2, pending: 0, reached: 1, called_in: 1, unreachable: 0, invalid_number: 0, recovery_rate: 1 },
  agents: [],
  ...s,
})

describe('missed-call labels', () => {
  it('names every log action the server writes', () => {
    expect(Object.keys(MISSED_ACTION_LABELS)).toEqual(['missed', 'called_in', 'reached', 'not_reached', 'unreachable', 'invalid_number'])
    expect(missedActionLabel('missed')).toBe('漏接')
    expect(missedActionLabel('called_in')).toBe('市民再次来电已接通')
    expect(missedActionLabel('reached')).toBe('回拨接通')
    expect(missedActionLabel('not_reached')).toBe('回拨未接通')
    expect(missedActionLabel('unreachable')).toBe('多次未接通，结束回拨')
    expect(missedActionLabel('invalid_number')).toBe('空号/错号')
    expect(missedActionLabel('new_thing')).toBe('new_thing')
  })
  it('names and colours how an item ended', () => {
    expect(missedResultLabel('reached')).toBe('回拨接通')
    expect(missedResultLabel('called_in')).toBe('再次来电已接通')
    expect(missedResultLabel('unreachable')).toBe('多次未接通')
    expect(missedResultLabel(null)).toBe('')
    expect(missedResultTag('reached')).toBe('success')
    expect(missedResultTag('unreachable')).toBe('warning')
    expect(missedResultTag(null)).toBe('info')
    expect(missedActionTone('missed')).toBe('danger')
    expect(missedActionTone('not_reached')).toBe('warning')
    expect(missedActionTone('called_in')).toBe('success')
  })
  it('offers the three outcomes an agent records', () => {
    expect(CALLBACK_OUTCOMES.map((o) => o.code)).toEqual(['reached', 'not_reached', 'invalid_number'])
    expect(isMissedStatus('pending')).toBe(true)
    expect(isMissedStatus('done')).toBe(true)
    expect(isMissedStatus('all')).toBe(false)
  })
})

describe('waiting time', () => {
  const now = Date.parse('2026-12-01T01:00:00Z')
  it('says a duration as people do', () => {
    expect(durationText(20_000)).toBe('不到1分钟')
    expect(durationText(12 * 60_000 + 30_000)).toBe('12分钟')
    expect(durationText(2 * 3600_000 + 5 * 60_000)).toBe('2小时05分')
    expect(durationText(3 * 86400_000 + 2 * 3600_000)).toBe('3天2小时')
    expect(durationText(86400_000)).toBe('1天')
    expect(durationText(-5)).toBe('不到1分钟')
  })
  it('counts from the first missed call, until now or until settled', () => {
    const pending = item(1, { first_at: '2026-12-01T00:15:00Z' })
    expect(waitedMs(pending, now)).toBe(45 * 60_000)
    expect(waitingText(pending, now)).toBe('已等待 45分钟')
    const done = item(2, { first_at: '2026-11-30T23:00:00Z', closed_at: '2026-11-30T23:35:00Z', status: 'done', result: 'reached' })
    expect(waitingText(done, now)).toBe('历时 35分钟')
    expect(waitedMs(item(3, { first_at: 'nonsense' }), now)).toBe(0)
    // A clock a little behind the server's never shows a negative wait.
    expect(waitingText(item(4, { first_at: '2026-12-01T01:00:30Z' }), now)).toBe('已等待 不到1分钟')
  })
  it('grows urgent after half an hour, late after two hours', () => {
    expect(waitingLevel(29 * 60_000)).toBe('normal')
    expect(waitingLevel(30 * 60_000)).toBe('soon')
    expect(waitingLevel(2 * 3600_000)).toBe('late')
  })
  it('shows the attempts used of those allowed, and when the next closes the item', () => {
    expect(attemptsText(item(1))).toBe('0/3')
    expect(attemptsText(item(1, { attempts: 1 }))).toBe('1/3')
    expect(lastAttempt(item(1, { attempts: 1 }))).toBe(false)
    expect(lastAttempt(item(1, { attempts: 2 }))).toBe(true)
  })
})

describe('paging the queue', () => {
  it('asks after the last id of a full page', () => {
    expect(nextAfter([item(4), item(7)], 2)).toBe(7)
    expect(nextAfter([item(4)], 2)).toBeNull()
    expect(nextAfter([], 0)).toBeNull()
  })
  it('does not list an item twice', () => {
    expect(appendPage([item(1), item(2)], [item(2), item(3)]).map((i) => i.id)).toEqual([1, 2, 3])
  })
})

describe('the callback form', () => {
  it('reads the order as an id or a number', () => {
    expect(parseOrderRef('')).toBeNull()
    expect(parseOrderRef(' 1024 ')).toEqual({ id: 1024 })
    expect(parseOrderRef('2026-11-24-000123')).toEqual({ number: '2026-11-24-000123' })
    expect(parseOrderRef('0')).toEqual({ error: '工单 ID 无效' })
    expect(parseOrderRef('abc')).toHaveProperty('error')
  })
  it('needs an outcome; links an order only to a reached caller', () => {
    expect(checkCallback({ outcome: 'reached', note: '', order: '' })).toBeNull()
    expect(checkCallback({ outcome: 'reached', note: '已受理', order: '2026-11-24-000123' })).toBeNull()
    expect(checkCallback({ outcome: '', note: '', order: '' })).toEqual({ outcome: '请选择回拨结果' })
    expect(checkCallback({ outcome: 'not_reached', note: '', order: '12' })).toEqual({ order_id: '只有回拨接通时才能关联工单' })
    expect(checkCallback({ outcome: 'reached', note: '', order: 'x' })?.order_id).toMatch('工单编号')
    expect(checkCallback({ outcome: 'invalid_number', note: '长'.repeat(501), order: '' })).toEqual({ note: '说明不能超过 500 个字' })
  })
})

describe('call figures', () => {
  it('reads seconds', () => {
    expect(secondsText(null)).toBe('—')
    expect(secondsText(8.46)).toBe('8.5 秒')
    expect(secondsText(0)).toBe('0.0 秒')
    expect(secondsText(65)).toBe('1分05秒')
    expect(secondsText(3725)).toBe('1小时02分')
  })
  it('gives the four headline figures with their formulas and counts', () => {
    const cards = callCards(stats())
    expect(cards.map((c) => c.label)).toEqual(['接通率', '服务水平', '平均应答时长', '漏话回拨率'])
    expect(cards.map((c) => c.text)).toEqual(['80.00%', '75.00%', '8.5 秒', '100.00%'])
    expect(cards[0].formula).toBe('接通率 = 接通数 / (接通数 + 放弃数)')
    expect(cards[0].terms).toEqual([
      { label: '接通数', count: 8 },
      { label: '放弃数', count: 2 },
    ])
    expect(cards[1].formula).toContain('20 秒内接通数')
    expect(cards[3].formula).toBe('漏话回拨率 = (回拨接通数 + 再次来电接通数) / 漏话数')
    expect(cards[3].terms.map((t) => t.count)).toEqual([1, 1, 2])
    expect(cards.every((c) => c.empty === null)).toBe(true)
  })
  it('says why a figure is missing', () => {
    const none = stats({
      offered: 0,
      answered: 0,
      abandoned: 0,
      connect_rate: null,
      service_level: null,
      avg_answer_s: null,
      missed: { items: 0, pending: 0, reached: 0, called_in: 0, unreachable: 0, invalid_number: 0, recovery_rate: null },
    })
    const cards = callCards(none)
    expect(cards.map((c) => c.text)).toEqual(['—', '—', '—', '—'])
    expect(cards.map((c) => c.empty)).toEqual(['暂无来电', '暂无来电', '暂无接通', '暂无漏话'])
  })
  it('lists the other figures and the queue’s outcome', () => {
    expect(callFigures(stats()).map((f) => `${f.label} ${f.text}`)).toEqual([
      '呼入量 10',
      '接通数 8',
      '放弃数 2',
      '排队中 0',
      '最长等待 1分35秒',
      '平均放弃前等待 31.2 秒',
      '平均通话时长 3分05秒',
    ])
    expect(missedFigures(stats()).map((f) => f.count)).toEqual([2, 0, 1, 1, 0, 0])
  })
  it('puts 接通率 beside the rates only when the server gives one', () => {
    expect(connectCard({ connect_rate: null, calls: null })).toBeNull()
    expect(connectCard({})).toBeNull()
    const c = connectCard({ connect_rate: 0.9231, calls: { offered: 14, answered: 12, abandoned: 1 } })
    expect(c?.text).toBe('92.31%')
    expect(c?.terms.map((t) => `${t.label}${t.count}`)).toEqual(['接通数12', '放弃数1', '呼入量14'])
  })
})
