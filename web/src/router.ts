import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from './stores/session'
import { CALL_STATS_ROLES, canOpen, COCKPIT_ROLES, landingFor, MISSED_CALL_ROLES, STATS_CENTRE_ROLES, SUPERVISION_ROLES } from './lib/menu'
import { setUnauthenticatedHandler } from './api/http'

declare module 'vue-router' {
  interface RouteMeta {
    /** No staff login needed. */
    public?: boolean
    /** Roles that may open the page (none: any staff member). */
    roles?: string[]
    title?: string
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./views/LoginView.vue'), meta: { public: true, title: '登录' } },
  { path: '/portal', component: () => import('./portal/PortalView.vue'), meta: { public: true, title: '市民诉求' } },
  {
    path: '/',
    component: () => import('./layouts/StaffLayout.vue'),
    children: [
      { path: '', component: () => import('./views/HomeView.vue'), meta: { title: '首页' } },
      {
        path: 'cockpit',
        component: () => import('./views/CockpitView.vue'),
        meta: { title: '领导驾驶舱', roles: [...COCKPIT_ROLES] },
      },
      {
        path: 'accept',
        component: () => import('./views/AcceptView.vue'),
        meta: { title: '来电受理', roles: ['agent', 'dispatcher'] },
      },
      {
        path: 'review',
        component: () => import('./views/ReviewView.vue'),
        meta: { title: '审核派单', roles: ['dispatcher'] },
      },
      {
        path: 'inbox',
        component: () => import('./views/InboxView.vue'),
        meta: { title: '承办工作台', roles: ['handler', 'unit_admin', 'dispatcher'] },
      },
      {
        path: 'missed-calls',
        component: () => import('./views/MissedCallsView.vue'),
        meta: { title: '漏话回拨', roles: [...MISSED_CALL_ROLES] },
      },
      {
        path: 'callback',
        component: () => import('./views/CallbackView.vue'),
        meta: { title: '回访', roles: ['callback', 'dispatcher'] },
      },
      {
        path: 'supervise',
        component: () => import('./views/SuperviseView.vue'),
        meta: { title: '督办看板', roles: [...SUPERVISION_ROLES] },
      },
      {
        path: 'supervise/hard-cases',
        component: () => import('./views/HardCasesView.vue'),
        meta: { title: '每月一题', roles: [...SUPERVISION_ROLES] },
      },
      { path: 'orders', component: () => import('./views/OrdersView.vue'), meta: { title: '工单查询' } },
      {
        path: 'orders/:id(\\d+)',
        component: () => import('./views/OrderDetailView.vue'),
        meta: { title: '工单详情' },
      },
      { path: 'knowledge', component: () => import('./views/KnowledgeView.vue'), meta: { title: '知识库' } },
      {
        path: 'admin/units',
        component: () => import('./views/admin/UnitsView.vue'),
        meta: { title: '组织机构', roles: ['admin'] },
      },
      {
        path: 'admin/users',
        component: () => import('./views/admin/UsersView.vue'),
        meta: { title: '用户与角色', roles: ['admin', 'unit_admin'] },
      },
      {
        path: 'admin/categories',
        component: () => import('./views/admin/CategoriesView.vue'),
        meta: { title: '诉求分类', roles: ['admin'] },
      },
      {
        path: 'admin/time-rules',
        component: () => import('./views/admin/TimeRulesView.vue'),
        meta: { title: '办理时限', roles: ['admin'] },
      },
      {
        path: 'admin/calendar',
        component: () => import('./views/admin/CalendarView.vue'),
        meta: { title: '工作日历', roles: ['admin'] },
      },
      {
        path: 'admin/tokens',
        component: () => import('./views/admin/TokensView.vue'),
        meta: { title: '接口令牌', roles: ['admin'] },
      },
      {
        path: 'admin/webhooks',
        component: () => import('./views/admin/WebhooksView.vue'),
        meta: { title: '推送订阅', roles: ['admin'] },
      },
      {
        path: 'admin/peers',
        component: () => import('./views/admin/PeersView.vue'),
        meta: { title: '对接平台', roles: ['admin'] },
      },
      {
        path: 'admin/qrcode',
        component: () => import('./views/admin/QrCodeView.vue'),
        meta: { title: '码上说二维码', roles: ['admin'] },
      },
      {
        path: 'insight/hotspots',
        component: () => import('./views/insight/HotspotsView.vue'),
        meta: { title: '热点', roles: ['dispatcher', 'supervisor', 'leader', 'admin'] },
      },
      {
        path: 'insight/warnings',
        component: () => import('./views/insight/WarningsView.vue'),
        meta: { title: '预警', roles: ['dispatcher', 'supervisor', 'leader', 'admin'] },
      },
      {
        path: 'insight/settings',
        component: () => import('./views/insight/InsightSettingsView.vue'),
        meta: { title: '研判设置', roles: ['admin'] },
      },
      {
        path: 'stats/rates',
        component: () => import('./views/stats/RatesView.vue'),
        meta: { title: '指标统计', roles: ['supervisor', 'leader', 'admin', 'dispatcher', 'unit_admin'] },
      },
      {
        path: 'stats/ranking',
        component: () => import('./views/stats/RankingView.vue'),
        meta: { title: '单位排名', roles: ['supervisor', 'leader', 'admin', 'dispatcher'] },
      },
      {
        path: 'stats/evaluation',
        component: () => import('./views/stats/EvaluationView.vue'),
        meta: { title: '考核评价', roles: [...STATS_CENTRE_ROLES] },
      },
      {
        path: 'stats/reports',
        component: () => import('./views/stats/ReportsView.vue'),
        meta: { title: '报表', roles: [...STATS_CENTRE_ROLES] },
      },
      {
        path: 'stats/monthly',
        component: () => import('./views/stats/MonthlyView.vue'),
        meta: { title: '月报', roles: ['supervisor', 'leader', 'admin', 'dispatcher'] },
      },
      {
        path: 'stats/calls',
        component: () => import('./views/stats/CallsView.vue'),
        meta: { title: '话务统计', roles: [...CALL_STATS_ROLES] },
      },
      {
        path: 'stats/formulas',
        component: () => import('./views/stats/FormulasView.vue'),
        meta: { title: '考核公式', roles: ['admin'] },
      },
      {
        path: 'admin/dispatch-catalogue',
        component: () => import('./views/admin/DispatchCatalogueView.vue'),
        meta: { title: '派单目录', roles: ['admin', 'dispatcher', 'supervisor'] },
      },
      {
        path: 'admin/kb-synonyms',
        component: () => import('./views/admin/SynonymsView.vue'),
        meta: { title: '知识库同义词', roles: ['admin'] },
      },
      {
        path: 'forbidden',
        component: () => import('./views/MessageView.vue'),
        props: { testid: 'forbidden', title: '无权访问此页面', text: '当前账号的角色不能使用该功能。' },
        meta: { title: '无权访问' },
      },
      {
        path: ':pathMatch(.*)*',
        component: () => import('./views/MessageView.vue'),
        props: { testid: 'not-found', title: '页面不存在', text: '请检查地址是否正确。' },
        meta: { title: '页面不存在' },
      },
    ],
  },
]

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach(async (to) => {
  const session = useSession()
  if (to.meta.public) {
    if (to.path === '/login' && !session.checked) {
      // Render the login page at once; leave it if the session turns out to be alive.
      void session
        .load()
        .then((me) => {
          if (me && router.currentRoute.value.path === '/login') {
            const r = typeof to.query.redirect === 'string' ? to.query.redirect : landingFor(me.roles)
            void router.replace(r.startsWith('/') && !r.startsWith('//') ? r : '/')
          }
        })
        .catch(() => {})
      return true
    }
    if (to.path === '/login' && session.me) {
      const r = typeof to.query.redirect === 'string' ? to.query.redirect : landingFor(session.roles)
      return r.startsWith('/') && !r.startsWith('//') ? r : '/'
    }
    return true
  }
  if (!session.checked) {
    try {
      await session.load()
    } catch {
      return { path: '/login', query: { redirect: to.fullPath } }
    }
  }
  if (!session.me) return { path: '/login', query: { redirect: to.fullPath } }
  if (!canOpen(session.roles, to.meta.roles)) return { path: '/forbidden', query: { from: to.fullPath } }
  return true
})

router.afterEach((to) => {
  const t = to.meta.title
  document.title = t ? `${t} · 接诉即办` : '接诉即办'
})

setUnauthenticatedHandler(() => {
  const session = useSession()
  session.me = null
  const cur = router.currentRoute.value
  if (!cur.meta.public) void router.push({ path: '/login', query: { redirect: cur.fullPath } })
})
