import { describe, expect, it } from 'vitest'
import { canOpen, landingFor, menuFor } from './menu'

const paths = (roles: string[]) => menuFor(roles).map((m) => m.path)

describe('role → menu', () => {
  it('gives the agent the accept screen and search', () => {
    expect(paths(['agent'])).toEqual(['/', '/accept', '/orders', '/knowledge'])
  })
  it('gives the dispatcher review as well as accept', () => {
    expect(paths(['dispatcher'])).toEqual(['/', '/accept', '/review', '/orders', '/knowledge'])
  })
  it('gives handling units their inbox, unit admins their staff', () => {
    expect(paths(['handler'])).toEqual(['/', '/inbox', '/orders', '/knowledge'])
    expect(paths(['unit_admin'])).toContain('/admin/users')
    expect(paths(['unit_admin'])).not.toContain('/admin/units')
  })
  it('gives the callback user the callback queue', () => {
    expect(paths(['callback'])).toEqual(['/', '/callback', '/orders', '/knowledge'])
  })
  it('gives admins every admin page', () => {
    const p = paths(['admin'])
    for (const x of ['/admin/units', '/admin/users', '/admin/categories', '/admin/time-rules', '/admin/calendar', '/admin/tokens', '/admin/qrcode', '/admin/kb-synonyms']) {
      expect(p).toContain(x)
    }
  })
  it('merges several roles without duplicates', () => {
    const p = paths(['dispatcher', 'handler'])
    expect(p).toContain('/review')
    expect(p).toContain('/inbox')
    expect(new Set(p).size).toBe(p.length)
  })
  it('gives nothing to unknown roles', () => {
    expect(paths(['citizen'])).toEqual([])
  })
})

describe('landing and route access', () => {
  it('lands agents on the accept screen, others on home', () => {
    expect(landingFor(['agent'])).toBe('/accept')
    expect(landingFor(['agent', 'dispatcher'])).toBe('/')
    expect(landingFor(['handler'])).toBe('/')
  })
  it('checks route roles', () => {
    expect(canOpen(['handler'], ['dispatcher'])).toBe(false)
    expect(canOpen(['handler'], ['handler', 'unit_admin'])).toBe(true)
    expect(canOpen(['handler'], undefined)).toBe(true)
  })
})
