import { describe, expect, it } from 'vitest'
import type { WebhookDelivery } from '../api/types'
import {
  checkWebhook,
  DEFAULT_SCOPES,
  DeliveryLog,
  deliveryStatusLabel,
  deliveryStatusTag,
  EVENT_KIND_LABELS,
  eventLabel,
  eventsText,
  isDeliveryStatus,
  lastResultText,
  MAX_DELIVERIES,
  scopeLabel,
  sortScopes,
  TOKEN_SCOPES,
} from './webhooks'

const delivery = (id: number, d: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  id,
  order_id: 7,
  seq: id,
  event_type: 'order.accepted',
  status: 'pending',
  attempts: 0,
  next_at: '2026-03-01T00:00:00Z',
  created_at: '2026-03-01T00:00:00Z',
  delivered_at: null,
  last_status: null,
  last_error: null,
  ...d,
})

describe('event kinds', () => {
  it('labels every kind the server lists, in Chinese', () => {
    const server = [
      'accepted', 'amended', 'instant_answered', 'dispatched', 'signed', 'returned', 'note_added', 'attachment_added',
      'extension_requested', 'extension_decided', 'replied', 'checked', 'called_back', 'callback_not_reached', 'supervised',
      'notice_responded', 'closed_without_callback', 'withdrawn', 'invalidated', 'merged_into', 'merged_from', 'repeat_found',
      'reminder_sent', 'overdue_marked',
    ]
    expect(Object.keys(EVENT_KIND_LABELS)).toEqual(server)
    for (const k of server) expect(eventLabel(k)).toMatch(/[\u4e00-\u9fff]/)
  })
  it('reads the `order.` prefix of a delivery and keeps unknown kinds', () => {
    expect(eventLabel('order.accepted')).toBe('受理')
    expect(eventLabel('dispatched')).toBe('派单/转派')
    expect(eventLabel('order.something_new')).toBe('order.something_new')
  })
  it('names what a subscription receives, all when it names nothing', () => {
    expect(eventsText([])).toBe('全部事件')
    expect(eventsText(['dispatched', 'replied'])).toBe('派单/转派、反馈')
  })
})

describe('delivery status', () => {
  it('labels and colours the three states', () => {
    expect(deliveryStatusLabel('pending')).toBe('待投递')
    expect(deliveryStatusLabel('delivered')).toBe('已送达')
    expect(deliveryStatusLabel('dead')).toBe('失败')
    expect(deliveryStatusTag('dead')).toBe('danger')
    expect(deliveryStatusTag('delivered')).toBe('success')
    expect(deliveryStatusTag('odd')).toBe('info')
    expect(deliveryStatusLabel('odd')).toBe('odd')
    expect(isDeliveryStatus('pending')).toBe(true)
    expect(isDeliveryStatus('')).toBe(false)
    expect(isDeliveryStatus(undefined)).toBe(false)
  })
  it('says how the last attempt went', () => {
    expect(lastResultText(delivery(1))).toBe('')
    expect(lastResultText(delivery(1, { attempts: 2, last_status: 500, last_error: 'receiver answered 500 Internal Server Error' }))).toBe('HTTP 500')
    expect(lastResultText(delivery(1, { attempts: 1, last_status: 200 }))).toBe('HTTP 200')
    expect(lastResultText(delivery(1, { attempts: 3, last_error: 'timed out' }))).toBe('超时未应答')
    expect(lastResultText(delivery(1, { attempts: 1, last_error: 'error sending request' }))).toBe('error sending request')
  })
})

describe('delivery log paging', () => {
  it('asks for what is older than the smallest id seen, while pages come full', () => {
    const log = new DeliveryLog(3)
    expect(log.before).toBeNull()
    log.add([delivery(30), delivery(29), delivery(27)])
    expect(log.hasMore).toBe(true)
    expect(log.before).toBe(27)
    // A page overlapping what is listed (a delivery appeared meanwhile) adds no duplicates.
    log.add([delivery(27), delivery(20)])
    expect(log.items.map((d) => d.id)).toEqual([30, 29, 27, 20])
    expect(log.hasMore).toBe(false)
    expect(log.before).toBe(20)
    log.reset()
    expect(log.items).toEqual([])
    expect(log.before).toBeNull()
    expect(log.hasMore).toBe(false)
  })
  it('re-reads from the newest as many as are listed, a page at least, 500 at most', () => {
    const log = new DeliveryLog(2)
    expect(log.reloadLimit).toBe(2)
    log.add([delivery(9), delivery(8)])
    log.add([delivery(7), delivery(6)])
    expect(log.reloadLimit).toBe(4)
    log.replace([delivery(10), delivery(9), delivery(8), delivery(7)], 4)
    expect(log.items.map((d) => d.id)).toEqual([10, 9, 8, 7])
    expect(log.hasMore).toBe(true)
    expect(log.before).toBe(7)
    log.replace([delivery(10)], 4)
    expect(log.hasMore).toBe(false)
    const big = new DeliveryLog(50)
    big.add(Array.from({ length: 50 }, (_, i) => delivery(1000 - i)))
    for (let n = 0; n < 11; n++) big.add(Array.from({ length: 50 }, (_, i) => delivery(900 - n * 50 - i)))
    expect(big.items.length).toBe(600)
    expect(big.reloadLimit).toBe(MAX_DELIVERIES)
  })
  it('has nothing more after an empty first page', () => {
    const log = new DeliveryLog(50)
    log.add([])
    expect(log.hasMore).toBe(false)
    expect(log.before).toBeNull()
  })
})

describe('the subscription form', () => {
  it('needs a name and an address; the server checks the address itself', () => {
    expect(checkWebhook({ name: ' ', url: '' })).toEqual({ name: '请填写名称', url: '请填写接收地址' })
    expect(checkWebhook({ name: '网格平台', url: 'not a url' })).toBeNull()
  })
})

describe('token scopes', () => {
  it('offers the five interfaces, the JSON API by default', () => {
    expect(TOKEN_SCOPES.map((s) => s.code)).toEqual(['api', 'open311', 'transfer', 'telephony', 'grid'])
    expect(DEFAULT_SCOPES).toEqual(['api'])
    expect(scopeLabel('open311')).toBe('Open311 受理')
    expect(scopeLabel('api')).toBe('JSON 接口')
    expect(scopeLabel('x')).toBe('x')
  })
  it('lists a token’s scopes in the usual order', () => {
    expect(sortScopes(['grid', 'x', 'api', 'open311'])).toEqual(['api', 'open311', 'grid', 'x'])
  })
})
