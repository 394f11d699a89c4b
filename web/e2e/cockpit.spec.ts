// 领导驾驶舱: a leader reads today's volume, the month's seven rates, the best departments, the
// districts' heat grid, the trend and the warnings — the same figures as GET /api/cockpit — the
// page reloads itself every minute, and it reads on a phone (390×844: one column, no sideways
// scrolling, the menu in a drawer).
import type { Browser, Page } from '@playwright/test'
import { apiAs, closeContext, expect, loginAs, shot, test } from './fixtures'

interface Cockpit {
  today: string
  accepted_today: number
  month: { counts: { accepted: number } } & Record<(typeof RATES)[number], number | null>
  departments: { unit_name: string; rank: number | null; evaluation: number | null; score: number | null }[]
  districts: { code: string; name: string; orders: number }[]
  trend: { date: string; orders: number }[]
  warnings: unknown[]
}

const RATES = ['response_rate', 'completion_rate', 'on_time_rate', 'resolution_rate', 'satisfaction_rate', 'instant_answer_rate', 'callback_rate'] as const
const fmt = (n: number) => n.toLocaleString('zh-CN')

async function readCockpit(page: Page): Promise<Cockpit> {
  const r = await page.request.get('/api/cockpit')
  expect(r.ok()).toBeTruthy()
  return (await r.json()) as Cockpit
}

/** Accepts an order through the API (as the agent), today. */
async function acceptOne(browser: Browser) {
  const agent = await apiAs(browser, 'agent')
  const r = await agent.request.post('/api/orders', {
    data: { channel: 'phone', request_type: 'help', content: '驾驶舱测试：路口信号灯故障，早高峰拥堵。', citizen: { anonymous: true } },
  })
  expect(r.ok()).toBeTruthy()
  await agent.close()
}

test('a leader reads the cockpit: the figures are the API\'s', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '领导驾驶舱' }).click()
  await expect(page).toHaveURL(/\/cockpit$/)
  const cockpit = page.getByTestId('cockpit')
  const api = await readCockpit(page)
  await expect(cockpit).toHaveAttribute('data-loaded', api.today)
  await expect(page.getByTestId('cockpit-updated')).toContainText('每 60 秒自动刷新 · 更新于')

  // Today and the month.
  await expect(page.getByTestId('accepted-today')).toHaveText(fmt(api.accepted_today))
  await expect(page.getByTestId('accepted-month')).toHaveText(fmt(api.month.counts.accepted))
  await expect(page.getByTestId('accepted-30')).toHaveText(fmt(api.trend.reduce((a, d) => a + d.orders, 0)))
  const rates = page.getByTestId('cockpit-rate')
  await expect(rates).toHaveCount(7)
  for (const key of RATES) {
    const v = api.month[key]
    await expect(page.locator(`[data-testid=cockpit-rate][data-rate=${key}]`).getByTestId('cockpit-rate-value')).toHaveText(
      v === null ? '—' : `${(Math.round(v * 10_000) / 100).toFixed(2)}%`,
    )
  }

  // The best departments, in their order, with their scores (none ranked yet on the 1st).
  await expect(page.getByTestId('cockpit-department')).toHaveCount(api.departments.length)
  if (api.departments.length) {
    await expect(page.getByTestId('cockpit-department-name')).toHaveText(api.departments.map((d) => d.unit_name))
    await expect(page.getByTestId('cockpit-department-score').first()).toHaveText((api.departments[0].evaluation ?? api.departments[0].score)!.toFixed(2))
  } else {
    await expect(page.getByTestId('cockpit-departments')).toContainText('本月暂无可排名的部门')
  }

  // The heat grid: a tile per district, busiest first and darkest, with its count.
  expect(api.districts.length).toBeGreaterThan(1)
  const tiles = page.getByTestId('heat-tile')
  await expect(tiles).toHaveCount(api.districts.length)
  const busiest = [...api.districts].sort((a, b) => b.orders - a.orders)
  await expect(tiles.first().getByTestId('heat-name')).toHaveText(busiest[0].name)
  await expect(tiles.first().getByTestId('heat-count')).toHaveText(fmt(busiest[0].orders))
  await expect(tiles.first()).toHaveAttribute('data-level', '6')
  const levels = (await tiles.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-level')))))
  expect([...levels].sort((a, b) => b - a)).toEqual(levels)
  const last = tiles.last()
  expect(Number(await last.getAttribute('data-orders'))).toBe(busiest[busiest.length - 1].orders)
  // The busiest tile is darker than the quietest.
  const lum = (rgb: string) => rgb.match(/\d+/g)!.slice(0, 3).map(Number).reduce((a, b) => a + b, 0)
  const dark = await tiles.first().evaluate((e) => getComputedStyle(e).backgroundColor)
  const light = await last.evaluate((e) => getComputedStyle(e).backgroundColor)
  expect(lum(dark)).toBeLessThan(lum(light))

  // The trend chart and the warnings.
  await expect(page.getByTestId('cockpit-trend-chart')).toHaveAttribute('data-rendered', 'true')
  if (api.warnings.length) await expect(page.getByTestId('cockpit-warning')).toHaveCount(api.warnings.length)
  else await expect(page.getByTestId('no-warnings')).toBeVisible()
  await page.waitForTimeout(1500)
  await shot(page, 'cockpit.png')

  // A district opens its orders of the last 30 days.
  await tiles.first().click()
  await expect(page).toHaveURL(new RegExp(`/orders\\?.*region=${busiest[0].code}`))
  await closeContext(context)
})

test('the cockpit reloads itself every minute', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader')
  await page.clock.install()
  await page.goto('/cockpit')
  const cockpit = page.getByTestId('cockpit')
  await expect(cockpit).toHaveAttribute('data-reads', '1')
  const before = Number((await page.getByTestId('accepted-today').textContent())!.replace(/[,\s]/g, ''))

  // A call comes in; nothing changes until the minute is up.
  await acceptOne(browser)
  await page.clock.fastForward(30_000)
  await expect(cockpit).toHaveAttribute('data-reads', '1')
  await page.clock.fastForward(30_000)
  await expect(cockpit).toHaveAttribute('data-reads', '2')
  await expect(page.getByTestId('accepted-today')).toHaveText(fmt(before + 1))
  await closeContext(context)
})

test('the cockpit reads on a phone: one column, no sideways scrolling', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'leader', { width: 390, height: 844 })
  // The side menu is a drawer on a phone.
  await expect(page.getByTestId('menu-toggle')).toBeVisible()
  await page.getByTestId('menu-toggle').click()
  await page.getByTestId('nav-drawer').getByRole('menuitem', { name: '领导驾驶舱' }).click()
  await expect(page).toHaveURL(/\/cockpit$/)
  await expect(page.getByTestId('nav-drawer')).toBeHidden()
  const cockpit = page.getByTestId('cockpit')
  await expect(cockpit).not.toHaveAttribute('data-loaded', '')
  await expect(page.getByTestId('cockpit-trend-chart')).toHaveAttribute('data-rendered', 'true')

  // Nothing wider than the screen.
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth }))
  expect(widths.doc).toBeLessThanOrEqual(widths.view)
  expect(widths.body).toBeLessThanOrEqual(widths.view)

  // The panels stacked: one below the other, each as wide as the column.
  const ids = ['cockpit-today', 'cockpit-rates', 'cockpit-departments', 'cockpit-heat', 'cockpit-trend', 'cockpit-warnings']
  const boxes = []
  for (const id of ids) boxes.push((await page.getByTestId(id).boundingBox())!)
  for (let i = 1; i < boxes.length; i++) {
    expect(Math.abs(boxes[i].x - boxes[0].x)).toBeLessThan(2)
    expect(Math.abs(boxes[i].width - boxes[0].width)).toBeLessThan(2)
    expect(boxes[i].y).toBeGreaterThanOrEqual(boxes[i - 1].y + boxes[i - 1].height)
  }
  expect(boxes[0].x).toBeGreaterThanOrEqual(0)
  expect(boxes[0].x + boxes[0].width).toBeLessThanOrEqual(390)
  expect(boxes[0].width).toBeGreaterThan(330)
  await page.waitForTimeout(400)
  await shot(page, 'cockpit-phone.png')
  await page.getByTestId('cockpit-heat').scrollIntoViewIfNeeded()
  await page.waitForTimeout(200)
  await shot(page, 'cockpit-phone-heat.png')
  await closeContext(context)
})

test('the cockpit is for the centre: a unit admin has neither the menu entry nor the page', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'unit_admin')
  await expect(page.getByRole('menuitem', { name: '领导驾驶舱' })).toHaveCount(0)
  await page.goto('/cockpit')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
