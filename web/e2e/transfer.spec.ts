// Transfers between platforms (issue 8, 一键转办): an admin registers the platforms (对接平台) —
// a 110 centre that is this very server (its code is the demo tenant's, the token one of ours with
// the transfer scope: the transfer goes out and comes back in over HTTP) and a utility hotline —;
// the agent transfers an emergency order: another platform is refused until 110 has it (the
// message on the field), 110 takes it, the record reaches 对方已接收 with the other side's number
// and the order is closed as 转办结; the order that came in shows where it came from.
import type { Page } from '@playwright/test'
import { agentAccepts, apiGet, issueToken, runSuffix } from './api-steps'
import { apiAs, baseUrl, closeContext, expect, expectSuccess, loginAs, test } from './fixtures'

/** The demo tenant's code (`jiesu demo`): what this server sends as `from`. */
const DEMO_TENANT = 'demo'

interface PeerItem {
  id: number
  code: string
  name: string
  kind: string
  url?: string | null
  active: boolean
}

interface OrderTransfer {
  id: string
  peer_id: number
  state: string
  remote_ref: string | null
  remote_status: string | null
  close_on_accept: boolean
}

interface OrderBody {
  id: number
  number: string
  status: { code: string }
  closure: { code: string; label: string } | null
  channel: { code: string }
  external_ref: string | null
  transfers: OrderTransfer[]
}

function peerRow(page: Page, name: string) {
  return page.locator('[data-testid=peer-table] .el-table__body tr', { has: page.locator('[data-testid=peer-name]', { hasText: name }) })
}

test('an emergency is transferred to 110 first, accepted there and closed as 转办结', async ({ browser }) => {
  const suffix = runSuffix()
  const token = await issueToken(browser, `平台转办（回环）${suffix}`, ['transfer'])

  // ---- the admin registers the platforms ----
  const admin = await loginAs(browser, 'admin')
  const ap = admin.page
  await ap.getByRole('menuitem', { name: '对接平台' }).click()
  await expect(ap.getByTestId('admin-peers')).toBeVisible()
  const before = await apiGet<{ items: PeerItem[] }>(browser, 'admin', '/api/transfer/peers')
  let police = before.items.find((p) => p.code === DEMO_TENANT)
  const policeName = police?.name ?? `市公安局110指挥中心 ${suffix}`
  if (!police) {
    await ap.getByRole('button', { name: '登记平台' }).click()
    const dialog = ap.locator('.el-dialog', { hasText: '登记对接平台' })
    await dialog.getByTestId('peer-kind-input').getByText('110', { exact: true }).click()
    await dialog.locator('input[name=name]').fill(policeName)
    await dialog.locator('input[name=code]').fill(DEMO_TENANT)
    await dialog.locator('input[name=token]').fill(token)
    // The server checks the address: its 422 lands on the field.
    await dialog.locator('input[name=url]').fill('ftp://110.example')
    await dialog.getByRole('button', { name: '登记' }).click()
    const urlItem = dialog.locator('.el-form-item', { has: ap.locator('input[name=url]') })
    await expect(urlItem).toHaveClass(/is-error/)
    await expect(urlItem.locator('.el-form-item__error')).toContainText('http')
    await dialog.locator('input[name=url]').fill(baseUrl())
    await dialog.getByRole('button', { name: '登记' }).click()
    await expectSuccess(ap, '已登记')
    await expect(dialog).toBeHidden()
    const after = await apiGet<{ items: PeerItem[] }>(browser, 'admin', '/api/transfer/peers')
    police = after.items.find((p) => p.code === DEMO_TENANT)!
    expect(police).toMatchObject({ kind: 'police_110', url: baseUrl(), active: true })
    expect(JSON.stringify(after)).not.toContain(token)
  } else if (!police.active) {
    await peerRow(ap, police.name).locator('[data-action=resume]').click()
    await expectSuccess(ap, '已恢复对接')
  }
  await expect(peerRow(ap, policeName).getByTestId('peer-kind')).toHaveText('110')
  await expect(peerRow(ap, policeName).getByTestId('peer-active')).toHaveText('对接中')

  // A utility hotline, over the API; paused and resumed on the screen.
  const gasName = `燃气抢修热线 ${suffix}`
  const api = await apiAs(browser, 'admin')
  const created = await api.request.post('/api/transfer/peers', {
    data: { code: `gas-${suffix}`, name: gasName, kind: 'utility', url: baseUrl(), token: 'unused' },
  })
  expect(created.status()).toBe(201)
  const gasId = ((await created.json()) as { id: number }).id
  await api.close()
  await ap.getByRole('button', { name: '刷新' }).click()
  const gasRow = peerRow(ap, gasName)
  await expect(gasRow.getByTestId('peer-kind')).toHaveText('公共事业热线')
  await gasRow.locator('[data-action=pause]').click()
  await ap.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
  await expectSuccess(ap, '已暂停对接')
  await expect(gasRow.getByTestId('peer-active')).toHaveText('已暂停')
  await gasRow.locator('[data-action=resume]').click()
  await expectSuccess(ap, '已恢复对接')
  await expect(gasRow.getByTestId('peer-active')).toHaveText('对接中')
  await closeContext(admin.context)

  // ---- the agent transfers an emergency ----
  const order = await agentAccepts(browser, {
    channel: 'phone',
    request_type: 'help',
    content: `转办测试 ${suffix}：小区地下室燃气泄漏，有人员被困，请立即处置`,
    address: '康巴什区某小区 3 号楼地下室',
    citizen: { name: '李先生', phone: '13700002222' },
    flags: { emergency: true },
  })
  const { context, page } = await loginAs(browser, 'agent')
  await page.goto(`/orders/${order.id}`)
  await expect(page.getByTestId('order-number')).toHaveText(order.number)
  await page.locator('[data-testid=order-actions] [data-action=transfer]').click()
  const form = page.locator('[data-testid=action-form][data-action=transfer]')
  await expect(form).toBeVisible()
  await expect(form.getByTestId('transfer-hint')).toContainText('突发事件涉及人身财产安全，须先转110')
  const peers = form.getByTestId('transfer-peer')
  await expect(peers.first()).toHaveAttribute('data-kind', 'police_110')
  await expect(peers.filter({ hasText: policeName })).toHaveClass(/is-checked/)
  await expect(form.getByTestId('transfer-close').locator('input')).toBeChecked()

  // Another platform first: refused, the rule on the field.
  await peers.filter({ hasText: gasName }).click()
  await form.locator('textarea[name=reason]').fill('燃气泄漏，请燃气公司抢修')
  await page.getByTestId('action-submit').click()
  const peerItem = form.getByTestId('transfer-peer-item')
  await expect(peerItem).toHaveClass(/is-error/)
  await expect(peerItem.locator('.el-form-item__error')).toContainText('须先转110')
  const refused = await apiGet<OrderBody>(browser, 'agent', `/api/orders/${order.id}`)
  expect(refused.transfers ?? []).toEqual([])
  expect(refused.status.code).toBe('pending_review')

  // 110 takes it; the order closes once 110 has accepted it.
  await peers.filter({ hasText: policeName }).click()
  await expect(peerItem).not.toHaveClass(/is-error/)
  await form.locator('textarea[name=reason]').fill('有人员被困，涉及人身安全，请110立即处置')
  await page.getByTestId('action-submit').click()
  await expectSuccess(page, `已转办至“${policeName}”`)
  await expect(form).toBeHidden()
  const record = page.locator('[data-testid=transfer][data-direction=out]')
  await expect(record).toHaveCount(1)
  await expect(record.getByTestId('transfer-peer-name')).toHaveText(policeName)
  // The background pass sends it within a second; the page follows until the answer is in.
  await expect(record).toHaveAttribute('data-state', 'accepted', { timeout: 30_000 })
  await expect(record.getByTestId('transfer-state')).toHaveText('对方已接收')
  await expect(record.getByTestId('transfer-remote-ref')).toHaveText(/^\d{4}-\d{2}-\d{2}-\d+$/)
  const remote = (await record.getByTestId('transfer-remote-ref').textContent())!.trim()
  await expect(page.locator('.tags')).toContainText('转办结')
  await expect(page.getByTestId('order-status')).toHaveText('已办结')
  await expect(page.locator('[data-testid=order-actions] [data-action=transfer]')).toHaveCount(0)
  const timeline = page.getByTestId('timeline')
  await expect(timeline).toContainText('转办其他平台')
  await expect(timeline).toContainText(`转至 ${policeName}（110）`)
  await expect(timeline).toContainText('对方平台已接收')
  await expect(timeline).toContainText(`对方编号 ${remote}`)

  const done = await apiGet<OrderBody>(browser, 'agent', `/api/orders/${order.id}`)
  expect(done.closure?.code).toBe('transferred')
  expect(done.transfers).toHaveLength(1)
  expect(done.transfers[0]).toMatchObject({ peer_id: police!.id, state: 'accepted', remote_ref: remote, close_on_accept: true })
  expect(done.transfers.some((t) => t.peer_id === gasId)).toBe(false)

  // The order that came in (on this same server): from the 110 platform, with its report going back.
  const found = await apiGet<{ items: { id: number; number: string }[] }>(browser, 'agent', `/api/orders?number=${remote}`)
  const inbound = found.items.find((o) => o.number === remote)!
  const inOrder = await apiGet<OrderBody>(browser, 'agent', `/api/orders/${inbound.id}`)
  expect(inOrder.channel.code).toBe('police_110')
  expect(inOrder.external_ref).toBe(`${DEMO_TENANT}:${done.transfers[0].id}`)
  await page.goto(`/orders/${inbound.id}`)
  const came = page.locator('[data-testid=transfer][data-direction=in]')
  await expect(came.getByTestId('transfer-peer-name')).toHaveText(policeName)
  await expect(came.getByTestId('transfer-state')).toHaveText('对方已接收')
  // Its status reported back to the first order (对方平台办理进展).
  await expect
    .poll(async () => (await apiGet<OrderBody>(browser, 'agent', `/api/orders/${order.id}`)).transfers[0].remote_status, { timeout: 30_000, intervals: [500] })
    .not.toBeNull()
  await page.goto(`/orders/${order.id}`)
  await expect(record.getByTestId('transfer-remote-status')).not.toBeEmpty()
  await expect(timeline).toContainText('对方平台办理进展')
  await closeContext(context)
})
