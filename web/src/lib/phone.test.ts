import { describe, expect, it } from 'vitest'
import { isCompletePhone, isValidPhone, normalizePhone } from './phone'

describe('phone numbers', () => {
  it('normalises separators and +86', () => {
    expect(normalizePhone('+86 138-0013 8000')).toBe('13800138000')
    expect(normalizePhone('(0471) 1234567')).toBe('04711234567')
  })
  it('detects complete mobiles', () => {
    expect(isCompletePhone('1380013800')).toBe(false)
    expect(isCompletePhone('13800138000')).toBe(true)
    expect(isCompletePhone('138001380001')).toBe(false)
    expect(isCompletePhone('12800138000')).toBe(false)
  })
  it('detects complete landlines by area code length', () => {
    expect(isCompletePhone('010-6512345')).toBe(false)
    expect(isCompletePhone('010-65123456')).toBe(true)
    expect(isCompletePhone('021 1234 5678')).toBe(true)
    expect(isCompletePhone('0471-123456')).toBe(false)
    expect(isCompletePhone('0471-1234567')).toBe(true)
    expect(isCompletePhone('0477-12345678')).toBe(true)
  })
  it('rejects letters and local numbers for lookup', () => {
    expect(isCompletePhone('1380013800a')).toBe(false)
    expect(isCompletePhone('12345678')).toBe(false)
  })
  it('validates like the server', () => {
    expect(isValidPhone('13800138000')).toBe(true)
    expect(isValidPhone('138')).toBe(false)
    expect(isValidPhone('0471123456')).toBe(true)
    expect(isValidPhone('12345678')).toBe(true)
    expect(isValidPhone('0471-12')).toBe(false)
  })
})
