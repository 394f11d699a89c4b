// Open to other systems (issue 8): a webhook subscription created on its screen (the server's
// 422 on the field, the signing secret shown once), an order's events in its delivery log —
// pending, retried against a receiver that is not there —, paused and resumed; and an API token
// limited to the Open311 interface.
import type { Page } from '@playwright/test'
import { acceptAndDispatch, apiGet } from './api-steps'
import { closeContext, expect, expectSuccess, loginAs, pickUnit, test } from './fixtures'

/** Nothing listens on the discard port: every attempt fails at once. */
const DEAD_URL = 'http://127.0.0.1:9/hook'

interface HookItem {
  id: number
  name: string
  url: string
  events: string[]
  active: boolean
  pending: number
  delivered: number
  dead: number
}

async function attemptsOf(page: Page, orderId: number): Promise<number> {
  await page.getByTestId('delivery-refresh').click()
  const row = page.locator('[data-testid=delivery-table] .el-table__body tr', { has: page.locator(`[data-testid=delivery-order]`, { hasText: `#${orderId}` }) })
  const accepted = row.filter({ has: page.locator('[data-event="order.accepted"]') })
  if ((await accepted.count()) !== 1) return -1
  return Number(await accepted.getByTestId('delivery-attempts').textContent())
}

test('admin subscribes a system to order events and follows the deliveries', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'admin')
  const name = `区网格化平台 ${String(Date.now()).slice(-6)}`

  await page.goto('/admin/webhooks')
  await expect(page.getByTestId('admin-webhooks')).toBeVisible()
  await expect(page.locator('.el-menu-item', { hasText: '推送订阅' })).toBeVisible()
  await page.getByRole('button', { name: '新增订阅' }).click()
  const dialog = page.locator('.el-dialog', { hasText: '新增推送订阅' })
  await dialog.locator('input[name=name]').fill(name)
  // The server checks the address: its 422 lands on the field.
  await dialog.locator('input[name=url]').fill('not a url')
  await dialog.getByRole('button', { name: '创建' }).click()
  const urlItem = dialog.locator('.el-form-item', { has: page.locator('input[name=url]') })
  await expect(urlItem).toHaveClass(/is-error/)
  await expect(urlItem.locator('.el-form-item__error')).toContainText('接收地址')
  await expect(page.locator('.el-message--error')).toBeVisible()

  await dialog.locator('input[name=url]').fill(DEAD_URL)
  const events = dialog.getByTestId('webhook-events')
  await events.getByText('受理', { exact: true }).click()
  await events.getByText('派单/转派', { exact: true }).click()
  await dialog.getByRole('button', { name: '创建' }).click()

  // The signing secret, once.
  await expect(dialog.getByText('签名密钥只显示这一次')).toBeVisible()
  const secret = (await dialog.getByTestId('webhook-secret').textContent())?.trim() ?? ''
  expect(secret).toMatch(/^whsec_\S{16,}$/)
  await expect(dialog.getByRole('button', { name: '复制' })).toBeVisible()
  await dialog.getByRole('button', { name: '完成' }).click()
  await expect(dialog).toBeHidden()
  await page.getByRole('button', { name: '新增订阅' }).click()
  await expect(dialog.getByTestId('webhook-secret')).toHaveCount(0)
  await expect(dialog.locator('input[name=url]')).toHaveValue('')
  await dialog.getByRole('button', { name: '取消' }).click()
  const listed = await apiGet<{ items: HookItem[]; event_kinds: string[] }>(browser, 'admin', '/api/webhooks')
  const hook = listed.items.find((h) => h.name === name)!
  expect(hook).toMatchObject({ url: DEAD_URL, events: ['accepted', 'dispatched'], active: true, pending: 0 })
  expect(JSON.stringify(listed)).not.toContain(secret)

  const row = page.locator('[data-testid=webhook-table] .el-table__body tr', { hasText: name })
  await expect(row).toHaveCount(1)
  await expect(row).toContainText('受理、派单/转派')
  await expect(row.getByTestId('webhook-active')).toHaveText('推送中')

  // An order comes in and is dispatched: two events for the subscription, delivered in order.
  const order = await acceptAndDispatch(browser, `推送订阅测试：小区路灯损坏 ${name}`)
  await row.locator('[data-action=log]').click()
  const drawer = page.getByTestId('delivery-log')
  await expect(drawer).toBeVisible()
  const deliveries = drawer.locator('.el-table__body tr', { has: page.locator('[data-testid=delivery-order]', { hasText: `#${order.id}` }) })
  // The first event is tried again and again; the second waits behind it.
  await expect.poll(() => attemptsOf(page, order.id), { timeout: 30_000, intervals: [500] }).toBeGreaterThanOrEqual(1)
  await expect(deliveries).toHaveCount(2)
  const accepted = deliveries.filter({ has: page.locator('[data-event="order.accepted"]') })
  await expect(accepted).toContainText('受理')
  await expect(accepted.getByTestId('delivery-status-tag')).toHaveText('待投递')
  await expect(accepted.getByTestId('delivery-result')).not.toHaveText('—')
  const first = await attemptsOf(page, order.id)
  await expect.poll(() => attemptsOf(page, order.id), { timeout: 30_000, intervals: [1000] }).toBeGreaterThan(first)
  await expect(accepted.getByTestId('delivery-result')).toContainText(/error|127\.0\.0\.1|refused/i)
  const dispatched = deliveries.filter({ has: page.locator('[data-event="order.dispatched"]') })
  await expect(dispatched.getByTestId('delivery-status-tag')).toHaveText('待投递')
  // Only a failed delivery can be sent again.
  await expect(deliveries.locator('[data-action=retry]')).toHaveCount(0)

  // The status filter: nothing has failed for good yet, nothing was delivered.
  await drawer.getByTestId('delivery-status').getByText('失败').click()
  await expect(drawer.getByText('没有投递记录')).toBeVisible()
  await drawer.getByTestId('delivery-status').getByText('已送达').click()
  await expect(drawer.getByText('没有投递记录')).toBeVisible()
  await drawer.getByTestId('delivery-status').getByText('待投递').click()
  await expect(deliveries).toHaveCount(2)
  const log = await apiGet<{ items: { order_id: number; status: string; attempts: number; last_error: string | null }[] }>(
    browser,
    'admin',
    `/api/webhooks/${hook.id}/deliveries?status=pending`,
  )
  const mine = log.items.filter((d) => d.order_id === order.id)
  expect(mine).toHaveLength(2)
  expect(mine.every((d) => d.status === 'pending')).toBe(true)

  // The order link opens the order.
  await accepted.getByTestId('delivery-order').click()
  await page.waitForURL(`**/orders/${order.id}`)
  await expect(page.getByTestId('order-number')).toHaveText(order.number)

  // Pause and resume.
  await page.goto('/admin/webhooks')
  await expect(row.getByTestId('webhook-pending')).toHaveText('2')
  await row.locator('[data-action=pause]').click()
  await page.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
  await expectSuccess(page, '已暂停推送')
  await expect(row.getByTestId('webhook-active')).toHaveText('已暂停')
  const paused = await apiGet<{ items: HookItem[] }>(browser, 'admin', '/api/webhooks')
  expect(paused.items.find((h) => h.id === hook.id)?.active).toBe(false)
  await row.locator('[data-action=resume]').click()
  await expectSuccess(page, '已恢复推送')
  await expect(row.getByTestId('webhook-active')).toHaveText('推送中')
  const resumed = await apiGet<{ items: HookItem[] }>(browser, 'admin', '/api/webhooks')
  expect(resumed.items.find((h) => h.id === hook.id)?.active).toBe(true)

  // The pending count opens the log filtered to pending deliveries.
  await row.getByTestId('webhook-pending').click()
  await expect(drawer.getByTestId('delivery-status').locator('.is-active')).toHaveText('待投递')
  await expect(deliveries).toHaveCount(2)
  await closeContext(context)
})

test('a token limited to Open311 shows only that scope', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'admin')
  const name = `Open311 受理端 ${String(Date.now()).slice(-6)}`
  await page.goto('/admin/tokens')
  await page.getByRole('button', { name: '签发令牌' }).click()
  const dialog = page.locator('.el-dialog', { hasText: '签发接口令牌' })
  await dialog.getByPlaceholder('如：110 联动平台').fill(name)
  await pickUnit(page, 'token-unit', '12345政务', 'A市12345政务服务便民热线')
  const scopes = dialog.getByTestId('token-scopes-input')
  // The JSON API is chosen by default.
  await expect(scopes.locator('.el-checkbox.is-checked')).toHaveText(['JSON 接口'])
  await scopes.getByText('JSON 接口', { exact: true }).click()
  await scopes.getByText('Open311 受理', { exact: true }).click()
  await dialog.getByRole('button', { name: '签发' }).click()
  await expect(page.getByTestId('issued-token')).toHaveText(/\S{16,}/)
  await dialog.getByRole('button', { name: '完成' }).click()

  const row = page.locator('.el-table__body tr', { hasText: name })
  await expect(row).toHaveCount(1)
  await expect(row.getByTestId('token-scopes').locator('.el-tag')).toHaveText(['Open311 受理'])
  const tokens = await apiGet<{ items: { name: string; scopes: string[] }[] }>(browser, 'admin', '/api/tokens')
  expect(tokens.items.find((t) => t.name === name)?.scopes).toEqual(['open311'])
  await closeContext(context)
})
