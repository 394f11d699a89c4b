// Shared helpers for the browser tests: the base URL from the global setup, logging in as a
// demo user in a context of its own, and the screenshot folder.
import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PASSWORD = 'jiesu-demo'
export const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots')
mkdirSync(SHOTS, { recursive: true })

export const test = base.extend({
  // eslint-disable-next-line no-empty-pattern
  baseURL: async ({}, use) => {
    const url = process.env.JIESU_E2E_BASE_URL
    if (!url) throw new Error('JIESU_E2E_BASE_URL is not set: run through `npm run e2e` (global setup)')
    await use(url)
  },
})
export { expect }

export function baseUrl(): string {
  return process.env.JIESU_E2E_BASE_URL!
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: false })
}

const pageProblems = new WeakMap<BrowserContext, string[]>()

/** Closes a context from `loginAs`, failing on CSP violations or uncaught page errors. */
export async function closeContext(context: BrowserContext) {
  const problems = pageProblems.get(context) ?? []
  await context.close()
  expect(problems, 'page errors / CSP violations').toEqual([])
}

/** A fresh context (own cookies, own cache) logged in through the login page. */
export async function loginAs(browser: Browser, username: string, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ baseURL: baseUrl(), viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  const page = await context.newPage()
  pageProblems.set(context, watchPageErrors(page))
  await page.goto('/login')
  await page.locator('input[name=username]').fill(username)
  await page.locator('input[name=password]').fill(PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
  await expect(page.getByTestId('current-user')).toBeVisible()
  return { context, page }
}

/** Logs in through the API only (for looking things up in a test). */
export async function apiAs(browser: Browser, username: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl() })
  const r = await context.request.post('/api/auth/login', { data: { username, password: PASSWORD } })
  expect(r.ok()).toBeTruthy()
  return context
}

/** Picks a unit in a UnitPicker (Element Plus tree select) by typing part of its name. */
export async function pickUnit(page: Page, testid: string, search: string, name: string) {
  const picker = page.getByTestId(testid).locator('.el-select__wrapper')
  await picker.click()
  await page.keyboard.type(search)
  const node = page.locator('.el-select-dropdown .el-tree-node__content:visible', { hasText: name }).first()
  await node.click()
  // A single picker closes by itself; a multiple one stays open and is closed with Escape.
  // Escape is pressed only while the dropdown is still open: once it has closed, Escape would
  // close the dialog around the picker instead.
  const open = page.locator('.el-select-dropdown .el-tree-node__content:visible').first()
  if (!(await open.waitFor({ state: 'hidden', timeout: 1_500 }).then(() => true, () => false))) {
    await page.keyboard.press('Escape')
  }
  await expect(page.getByTestId(testid)).toContainText(name)
}

/** Waits until the transient messages (toasts) are gone, for a clean screenshot. */
export async function quietMessages(page: Page) {
  await expect(page.locator('.el-message')).toHaveCount(0, { timeout: 15_000 })
}

/** Waits for the success message of a command. */
export async function expectSuccess(page: Page, text: string | RegExp) {
  const success = page.locator('.el-message--success').filter({ hasText: text }).first()
  const failure = page.locator('.el-message--error, .el-form-item__error').first()
  await expect(success.or(failure).first()).toBeVisible()
  if (!(await success.isVisible())) {
    // Says what the page answered instead, rather than only that the success did not come.
    await expect(success, `the page said: ${await failure.textContent().catch(() => '?')}`).toBeVisible()
  }
}

/** Fails the test on any Content-Security-Policy violation or uncaught error in the page. */
export function watchPageErrors(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text())
  })
  return problems
}

export interface ColdLoad {
  /** Milliseconds from the navigation start to the accept form being ready for typing. */
  interactive: number
  domContentLoaded: number
  requests: number
  scriptKb: number
  /** Whether the page set its `jiesu:accept-ready` mark. */
  marked: boolean
  /** The requests that ended last before the form was ready: path, start and end (ms). */
  last: { path: string; start: number; end: number }[]
}

/** A cold first load of the agent screen: fresh context with the cache disabled and cleared,
 *  the login page, log in as the agent, and wait for the accept form with the phone field focused. */
export async function coldLoadAgentScreen(browser: Browser, baseURL: string): Promise<ColdLoad> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1440, height: 900 } })
  try {
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
    await cdp.send('Network.clearBrowserCache')

    await page.goto('/login', { waitUntil: 'commit' })
    await page.locator('input[name=username]').fill('agent')
    await page.locator('input[name=password]').fill(PASSWORD)
    await page.locator('input[name=password]').press('Enter')
    await expect(page.locator('[data-testid=accept-form][data-ready=true]')).toBeVisible({ timeout: 15_000 })
    await expect(page.locator('input[name=phone]')).toBeFocused()

    return await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
      const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
      const scripts = resources.filter((r) => r.initiatorType === 'script' || r.name.endsWith('.js'))
      const ready = performance.getEntriesByName('jiesu:accept-ready')[0]
      return {
        interactive: Math.round((ready ? ready.startTime : performance.now()) - (nav?.startTime ?? 0)),
        domContentLoaded: Math.round(nav?.domContentLoadedEventEnd ?? 0),
        requests: resources.length,
        scriptKb: Math.round(scripts.reduce((s, r) => s + (r.encodedBodySize || r.transferSize || 0), 0) / 1024),
        marked: ready !== undefined,
        last: resources
          .map((r) => ({ path: new URL(r.name).pathname, start: Math.round(r.startTime), end: Math.round(r.responseEnd) }))
          .sort((a, b) => b.end - a.end)
          .slice(0, 6),
      }
    })
  } finally {
    await context.close()
  }
}
