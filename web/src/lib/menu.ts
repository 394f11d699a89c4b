// Roles → what a person sees in the menu and where they land. The server stays the authority:
// the menu only hides what a role cannot use.

export type Role =
  | 'agent'
  | 'dispatcher'
  | 'handler'
  | 'unit_admin'
  | 'callback'
  | 'supervisor'
  | 'leader'
  | 'admin'

export const ROLE_LABELS: Record<Role, string> = {
  agent: '话务员',
  dispatcher: '派单员',
  handler: '承办人',
  unit_admin: '单位联络员',
  callback: '回访员',
  supervisor: '督办员',
  leader: '领导',
  admin: '系统管理员',
}

export interface MenuItem {
  path: string
  label: string
  icon: string
  roles: readonly Role[]
  group?: string
}

/** Roles that see every order of the centre (they may search all orders). */
const CENTRE: readonly Role[] = ['agent', 'dispatcher', 'callback', 'supervisor', 'leader', 'admin']
const UNIT: readonly Role[] = ['handler', 'unit_admin']
const ALL: readonly Role[] = [...CENTRE, ...UNIT]
/** Roles that see the centre's insight (研判分析). */
export const INSIGHT_ROLES: readonly Role[] = ['dispatcher', 'supervisor', 'leader', 'admin']
/** Roles that may read the dispatch catalogue (admins edit it). */
export const CATALOGUE_ROLES: readonly Role[] = ['admin', 'dispatcher', 'supervisor']
/** Roles that see the centre's figures and rankings (统计考核). */
export const STATS_CENTRE_ROLES: readonly Role[] = ['supervisor', 'leader', 'admin', 'dispatcher']
/** … and the rates page, where a unit admin sees the figures of their own unit. */
export const STATS_ROLES: readonly Role[] = [...STATS_CENTRE_ROLES, 'unit_admin']

/** Roles that see the call centre's figures (话务统计). */
export const CALL_STATS_ROLES: readonly Role[] = ['supervisor', 'leader', 'admin']
/** Roles that see the missed-call queue (漏话回拨): agents and callback staff call back, the others read it masked. */
export const MISSED_CALL_ROLES: readonly Role[] = ['agent', 'callback', 'supervisor', 'admin']

/** Roles that may open the leader cockpit (the API: centre staff who see figures and warnings). */
export const COCKPIT_ROLES: readonly Role[] = STATS_CENTRE_ROLES
/**
 * Roles that may read the supervisor's board (督办看板) and the month's hard cases (每月一题);
 * only supervisors issue notices, supervisors and admins pick the hard cases.
 */
export const SUPERVISION_ROLES: readonly Role[] = ['supervisor', 'leader', 'admin', 'dispatcher']

/** The menu groups, in order (items without a group come first). */
export const MENU_GROUPS: readonly string[] = ['研判分析', '统计考核', '系统管理']

export const MENU: readonly MenuItem[] = [
  { path: '/', label: '首页', icon: 'HomeFilled', roles: ALL },
  { path: '/cockpit', label: '领导驾驶舱', icon: 'Monitor', roles: COCKPIT_ROLES },
  { path: '/accept', label: '来电受理', icon: 'Phone', roles: ['agent', 'dispatcher'] },
  { path: '/review', label: '审核派单', icon: 'Promotion', roles: ['dispatcher'] },
  { path: '/inbox', label: '承办工作台', icon: 'Box', roles: ['handler', 'unit_admin'] },
  { path: '/missed-calls', label: '漏话回拨', icon: 'PhoneFilled', roles: MISSED_CALL_ROLES },
  { path: '/callback', label: '回访', icon: 'ChatDotRound', roles: ['callback'] },
  { path: '/supervise', label: '督办看板', icon: 'AlarmClock', roles: SUPERVISION_ROLES },
  { path: '/supervise/hard-cases', label: '每月一题', icon: 'Flag', roles: SUPERVISION_ROLES },
  { path: '/orders', label: '工单查询', icon: 'Search', roles: ALL },
  { path: '/knowledge', label: '知识库', icon: 'Reading', roles: ALL },
  { path: '/insight/hotspots', label: '热点', icon: 'TrendCharts', roles: INSIGHT_ROLES, group: '研判分析' },
  { path: '/insight/warnings', label: '预警', icon: 'Warning', roles: INSIGHT_ROLES, group: '研判分析' },
  { path: '/insight/settings', label: '研判设置', icon: 'Setting', roles: ['admin'], group: '研判分析' },
  { path: '/stats/rates', label: '指标统计', icon: 'DataAnalysis', roles: STATS_ROLES, group: '统计考核' },
  { path: '/stats/ranking', label: '单位排名', icon: 'Histogram', roles: STATS_CENTRE_ROLES, group: '统计考核' },
  { path: '/stats/evaluation', label: '考核评价', icon: 'Trophy', roles: STATS_CENTRE_ROLES, group: '统计考核' },
  { path: '/stats/reports', label: '报表', icon: 'Tickets', roles: STATS_CENTRE_ROLES, group: '统计考核' },
  { path: '/stats/monthly', label: '月报', icon: 'Document', roles: STATS_CENTRE_ROLES, group: '统计考核' },
  { path: '/stats/calls', label: '话务统计', icon: 'Headset', roles: CALL_STATS_ROLES, group: '统计考核' },
  { path: '/stats/formulas', label: '考核公式', icon: 'Operation', roles: ['admin'], group: '统计考核' },
  { path: '/admin/units', label: '组织机构', icon: 'OfficeBuilding', roles: ['admin'], group: '系统管理' },
  { path: '/admin/users', label: '用户与角色', icon: 'User', roles: ['admin', 'unit_admin'], group: '系统管理' },
  { path: '/admin/categories', label: '诉求分类', icon: 'Files', roles: ['admin'], group: '系统管理' },
  { path: '/admin/time-rules', label: '办理时限', icon: 'Timer', roles: ['admin'], group: '系统管理' },
  { path: '/admin/calendar', label: '工作日历', icon: 'Calendar', roles: ['admin'], group: '系统管理' },
  { path: '/admin/tokens', label: '接口令牌', icon: 'Key', roles: ['admin'], group: '系统管理' },
  { path: '/admin/webhooks', label: '推送订阅', icon: 'Share', roles: ['admin'], group: '系统管理' },
  { path: '/admin/peers', label: '对接平台', icon: 'Link', roles: ['admin'], group: '系统管理' },
  { path: '/admin/qrcode', label: '码上说二维码', icon: 'Grid', roles: ['admin'], group: '系统管理' },
  { path: '/admin/dispatch-catalogue', label: '派单目录', icon: 'Guide', roles: CATALOGUE_ROLES, group: '系统管理' },
  { path: '/admin/kb-synonyms', label: '知识库同义词', icon: 'Connection', roles: ['admin'], group: '系统管理' },
]

export function hasAny(roles: readonly string[], allowed: readonly string[]): boolean {
  return roles.some((r) => allowed.includes(r))
}

/** The menu items for these roles, in menu order, without duplicates. */
export function menuFor(roles: readonly string[]): MenuItem[] {
  return MENU.filter((m) => hasAny(roles, m.roles))
}

/** Where a person lands after logging in: an agent straight on the accept screen. */
export function landingFor(roles: readonly string[]): string {
  if (roles.length === 1 && roles[0] === 'agent') return '/accept'
  return '/'
}

/** The menu in groups: `[null, items]` first for the ungrouped ones, then each group in order. */
export function groupedMenu(items: readonly MenuItem[]): { group: string | null; items: MenuItem[] }[] {
  const out: { group: string | null; items: MenuItem[] }[] = []
  const main = items.filter((m) => !m.group)
  if (main.length) out.push({ group: null, items: main })
  const groups = [...MENU_GROUPS, ...items.map((m) => m.group).filter((g): g is string => !!g && !MENU_GROUPS.includes(g))]
  for (const g of new Set(groups)) {
    const its = items.filter((m) => m.group === g)
    if (its.length) out.push({ group: g, items: its })
  }
  return out
}

/** Whether a route with `meta.roles` may be opened (no roles: any staff member). */
export function canOpen(roles: readonly string[], routeRoles?: readonly string[]): boolean {
  if (!routeRoles || routeRoles.length === 0) return true
  return hasAny(roles, routeRoles)
}

export function roleLabel(code: string): string {
  return (ROLE_LABELS as Record<string, string>)[code] ?? code
}
