import { describe, expect, it } from 'vitest'
import { ApiError, errorFromBody, fieldToProp, messageOf } from './errors'

describe('errorFromBody', () => {
  it('reads the server error body', () => {
    const e = errorFromBody(422, { error: { code: 'invalid_input', message: '“138”不是有效的电话号码', field: 'citizen.phone' } })
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(422)
    expect(e.code).toBe('invalid_input')
    expect(e.message).toBe('“138”不是有效的电话号码')
    expect(e.field).toBe('citizen.phone')
  })
  it('falls back to a message per status', () => {
    expect(errorFromBody(409, undefined).message).toBe('当前状态不允许此操作')
    expect(errorFromBody(502, '<html>').message).toBe('服务器暂时无法访问')
    expect(errorFromBody(418, null).message).toBe('请求失败（418）')
    expect(errorFromBody(404, { error: { code: 'not_found', message: '', field: null } }).message).toBe('请求的内容不存在')
  })
  it('treats 403 and 404 alike for denial', () => {
    expect(errorFromBody(403, {}).isDeniedOrMissing).toBe(true)
    expect(errorFromBody(404, {}).isDeniedOrMissing).toBe(true)
    expect(errorFromBody(409, {}).isDeniedOrMissing).toBe(false)
  })
})

describe('fieldToProp', () => {
  const props = ['phone', 'name', 'content', 'category', 'lead', 'knowledge_entry_id']
  it('uses aliases first', () => {
    expect(fieldToProp('citizen.phone', props, { 'citizen.phone': 'phone' })).toBe('phone')
    expect(fieldToProp('targets[0].unit_id', props, { targets: 'lead' })).toBe('lead')
  })
  it('matches the path, a prefix, or the last segment', () => {
    expect(fieldToProp('content', props)).toBe('content')
    expect(fieldToProp('instant_answer.knowledge_entry_id', props)).toBe('knowledge_entry_id')
    expect(fieldToProp('category.code', ['category'])).toBe('category')
  })
  it('returns null for unknown or missing fields', () => {
    expect(fieldToProp(null, props)).toBeNull()
    expect(fieldToProp('lat', props)).toBeNull()
  })
})

describe('messageOf', () => {
  it('explains network failures and aborts', () => {
    expect(messageOf(new TypeError('Failed to fetch'))).toBe('网络异常，无法连接服务器')
    const abort = new Error('x')
    abort.name = 'AbortError'
    expect(messageOf(abort)).toBe('操作已取消')
    expect(messageOf('plain')).toBe('plain')
  })
})
