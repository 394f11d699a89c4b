import { describe, expect, it } from 'vitest'
import { canOpen, groupedMenu, landingFor, menuFor } from './menu'

const paths = (roles: string[]) => menuFor(roles).map((m) => m.path)

describe('role → menu', () => {
  it('gives the agent the accept screen, the missed calls and search', () => {
    expect(paths(['agent'])).toEqual(['/', '/accept', '/missed-calls', '/orders', '/knowledge'])
  })
  it('gives the missed calls to those who call back and those who follow them; call figures to supervisors, leaders, admins', () => {
    for (const r of ['agent', 'callback', 'supervisor', 'admin']) expect(paths([r])).toContain('/missed-calls')
    for (const r of ['dispatcher', 'leader', 'handler', 'unit_admin']) expect(paths([r])).not.toContain('/missed-calls')
    for (const r of ['supervisor', 'leader', 'admin']) expect(paths([r])).toContain('/stats/calls')
    for (const r of ['agent', 'dispatcher', 'callback', 'unit_admin']) expect(paths([r])).not.toContain('/stats/calls')
    expect(menuFor(['agent']).find((m) => m.path === '/missed-calls')?.label).toBe('漏话回拨')
    expect(menuFor(['leader']).find((m) => m.path === '/stats/calls')?.label).toBe('话务统计')
  })
  it('gives the dispatcher review as well as accept, insight and the catalogue', () => {
    expect(paths(['dispatcher'])).toEqual([
      '/',
      '/cockpit',
      '/accept',
      '/review',
      '/supervise',
      '/supervise/hard-cases',
      '/orders',
      '/knowledge',
      '/insight/hotspots',
      '/insight/warnings',
      '/stats/rates',
      '/stats/ranking',
      '/stats/evaluation',
      '/stats/reports',
      '/stats/monthly',
      '/admin/dispatch-catalogue',
    ])
  })
  it('gives the figures to the centre, a unit admin only the rates, the formulas to admins', () => {
    for (const r of ['supervisor', 'leader', 'admin', 'dispatcher']) {
      expect(paths([r])).toEqual(expect.arrayContaining(['/stats/rates', '/stats/ranking', '/stats/monthly']))
    }
    expect(paths(['unit_admin'])).toContain('/stats/rates')
    expect(paths(['unit_admin'])).not.toContain('/stats/ranking')
    expect(paths(['unit_admin'])).not.toContain('/stats/monthly')
    for (const r of ['agent', 'handler', 'callback']) expect(paths([r]).filter((p) => p.startsWith('/stats'))).toEqual([])
    expect(paths(['admin'])).toContain('/stats/formulas')
    expect(menuFor(['admin']).find((m) => m.path === '/admin/peers')?.label).toBe('对接平台')
    expect(paths(['dispatcher'])).not.toContain('/admin/peers')
    expect(paths(['leader'])).not.toContain('/stats/formulas')
  })
  it('gives the cockpit, the board, the evaluation and the reports to the centre roles the API lets read them', () => {
    for (const r of ['supervisor', 'leader', 'admin', 'dispatcher']) {
      expect(paths([r])).toEqual(expect.arrayContaining(['/cockpit', '/supervise', '/supervise/hard-cases', '/stats/evaluation', '/stats/reports']))
    }
    for (const r of ['agent', 'handler', 'unit_admin', 'callback']) {
      for (const p of ['/cockpit', '/supervise', '/supervise/hard-cases', '/stats/evaluation', '/stats/reports']) expect(paths([r])).not.toContain(p)
    }
    expect(menuFor(['leader']).find((m) => m.path === '/cockpit')?.label).toBe('领导驾驶舱')
    expect(menuFor(['supervisor']).find((m) => m.path === '/supervise')?.label).toBe('督办看板')
    expect(menuFor(['leader']).find((m) => m.path === '/supervise/hard-cases')?.label).toBe('每月一题')
  })
  it('gives insight to the centre roles that weigh it, settings to admins', () => {
    for (const r of ['supervisor', 'leader', 'admin']) expect(paths([r])).toContain('/insight/hotspots')
    for (const r of ['agent', 'handler', 'unit_admin', 'callback']) expect(paths([r])).not.toContain('/insight/warnings')
    expect(paths(['admin'])).toContain('/insight/settings')
    expect(paths(['supervisor'])).not.toContain('/insight/settings')
    expect(paths(['supervisor'])).toContain('/admin/dispatch-catalogue')
    expect(paths(['leader'])).not.toContain('/admin/dispatch-catalogue')
  })
  it('groups the menu: ungrouped first, then insight, figures, administration', () => {
    const g = groupedMenu(menuFor(['admin']))
    expect(g.map((x) => x.group)).toEqual([null, '研判分析', '统计考核', '系统管理'])
    expect(groupedMenu(menuFor(['unit_admin'])).map((x) => x.group)).toEqual([null, '统计考核', '系统管理'])
    expect(groupedMenu(menuFor(['agent'])).map((x) => x.group)).toEqual([null])
  })
  it('gives handling units their inbox, unit admins their staff', () => {
    expect(paths(['handler'])).toEqual(['/', '/inbox', '/orders', '/knowledge'])
    expect(paths(['unit_admin'])).toContain('/admin/users')
    expect(paths(['unit_admin'])).not.toContain('/admin/units')
  })
  it('gives the callback user the callback queue', () => {
    expect(paths(['callback'])).toEqual(['/', '/missed-calls', '/callback', '/orders', '/knowledge'])
  })
  it('gives admins every admin page', () => {
    const p = paths(['admin'])
    for (const x of ['/admin/units', '/admin/users', '/admin/categories', '/admin/time-rules', '/admin/calendar', '/admin/tokens', '/admin/webhooks', '/admin/peers', '/admin/qrcode', '/admin/kb-synonyms', '/admin/dispatch-catalogue']) {
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
