// The dispatch suggestion (智能建议): a dispatcher opens an order waiting for review, sees the
// suggested category with its chance and the words it rests on, the region and the units, and
// dispatches it with one click on 采纳建议 (the category amended first when it differs).
import { apiAs, closeContext, expect, expectSuccess, loginAs, shot, test } from './fixtures'

interface Suggestion {
  category: { code: string; name: string; probability: number } | null
  reasons: string[]
  units: { unit_id: number; name: string; role: string; source: string }[]
}

// The first suggestion after a start trains the models from the history: minutes in a debug
// build on a small machine. Wait for it once, outside the tests' own time.
test.beforeAll(async ({ browser }) => {
  test.setTimeout(420_000)
  const api = await apiAs(browser, 'dispatcher')
  const r = await api.request.post('/api/dispatch/suggest', {
    data: { title: '电梯故障', content: '小区电梯故障无人维修', address: '' },
    timeout: 400_000,
  })
  expect(r.ok(), await r.text()).toBeTruthy()
  await api.close()
})

test('a dispatcher adopts the suggestion and the order goes to the suggested unit', async ({ browser }) => {
  // An order as an agent takes it: no category chosen.
  const agent = await apiAs(browser, 'agent')
  const created = await agent.request.post('/api/orders', {
    data: {
      channel: 'phone',
      request_type: 'complaint',
      content: '世纪城小区 3 号楼电梯连续三天故障停运，物业一直没有安排维修，老人上下楼非常困难，请尽快督促物业维修电梯。',
      address: 'A1区世纪城小区 3 号楼',
      citizen: { name: '刘女士', phone: '13900001234' },
    },
  })
  expect(created.status(), await created.text()).toBe(201)
  const order = await created.json()
  await agent.close()
  const dapi = await apiAs(browser, 'dispatcher')
  // The server trains its models from the history in the background after it starts: on a
  // fresh server the first suggestions come from keywords alone, the units once trained.
  let s: Suggestion = { units: [] } as unknown as Suggestion
  await expect
    .poll(
      async () => {
        s = await (await dapi.request.get(`/api/orders/${order.id}/suggestion`)).json()
        return s.units.length
      },
      { message: 'the demo data suggests a unit', timeout: 60_000, intervals: [500, 1_000, 2_000] },
    )
    .toBeGreaterThan(0)
  const lead = s.units.find((u) => u.role === 'lead') ?? s.units[0]

  const { context, page } = await loginAs(browser, 'dispatcher')
  await page.goto('/review?tab=review')
  await page.locator('input[name=number]').fill(order.number)
  const row = page.locator('.el-table__body tr', { hasText: order.number })
  await expect(row).toHaveCount(1)
  await row.locator('[data-action=dispatch]').click()
  const panel = page.getByTestId('suggestion')
  await expect(panel).toHaveAttribute('data-loaded', 'true')
  if (s.category) {
    await expect(panel.getByTestId('suggestion-category')).toContainText(s.category.name)
    await expect(panel.getByTestId('suggestion-category-pct')).toHaveText(/^(<1|\d{1,3})%$/)
  }
  for (const w of s.reasons.slice(0, 3)) await expect(panel.getByTestId('suggestion-reasons')).toContainText(w)
  await expect(panel.locator(`[data-testid=suggestion-unit][data-unit="${lead.unit_id}"]`)).toContainText(lead.name)
  await page.waitForTimeout(300)
  await shot(page, 'dispatch-suggestion.png')

  await panel.getByTestId('suggestion-adopt').click()
  await expectSuccess(page, '派单成功')
  await expect(page.locator('.el-table__body tr', { hasText: order.number })).toHaveCount(0)

  // The order: dispatched to the suggested lead unit, its category the suggested one.
  const after = await (await dapi.request.get(`/api/orders/${order.id}`)).json()
  expect(after.status.code).toBe('dispatched')
  expect(after.lead_unit_id).toBe(lead.unit_id)
  if (s.category) expect(after.category).toBe(s.category.code)
  await page.goto(`/orders/${order.id}`)
  await expect(page.getByTestId('assignments')).toContainText(lead.name)
  if (s.category) await expect(page.getByTestId('timeline')).toContainText('采纳智能分类建议')
  await closeContext(context)
  await dapi.close()
})

test('the agent screen fills what the agent has not chosen from the suggestion', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'agent')
  const form = page.getByTestId('accept-form')
  await expect(form).toHaveAttribute('data-ready', 'true')
  // The agent chooses the type; the suggestion must not change it.
  await form.locator('label', { hasText: '求助' }).click()
  await form.locator('input[name=address]').fill('A1区世纪城小区')
  await form.locator('textarea[name=content]').fill('小区电梯坏了三天了，物业一直不来修，老人上下楼很困难，要求尽快维修电梯。')
  const hint = page.getByTestId('accept-suggestion')
  await expect(hint).toBeVisible()
  await expect(form.locator('[data-field=request_type] .el-radio-button.is-active')).toHaveText('求助')
  // The place named in the address fills the empty region.
  await expect(hint.locator('[data-field=region_code]')).toHaveAttribute('data-applied', 'true')
  await expect(form.locator('[data-field=region_code] input')).toHaveValue(/A1区/)
  await closeContext(context)
})
