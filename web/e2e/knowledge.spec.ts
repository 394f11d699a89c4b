// The knowledge base (知识库): an entry written, reviewed and published at the centre, then
// found live on the agent screen and cited by an instant answer (即答办结); a unit's own entry
// edited into a new version; synonyms; and the searches that found nothing.
import type { BrowserContext, Page } from '@playwright/test'
import { apiAs, closeContext, expect, expectSuccess, loginAs, test } from './fixtures'

/** Letters only (no digits: they would pair with phone numbers in the demo answers). */
function token(prefix: string): string {
  const letters = 'qxzjvk'
  let s = prefix
  for (let i = 0; i < 8; i++) s += letters[Math.floor(Math.random() * letters.length)]
  return s
}

interface Entry {
  id: number
  code: string
  title: string
  version: number
  state: string
}

async function createEntry(api: BrowserContext, body: Record<string, unknown>): Promise<Entry> {
  const r = await api.request.post('/api/kb/entries', { data: body })
  expect(r.status(), await r.text()).toBe(201)
  return r.json()
}

async function publishEntry(api: BrowserContext, e: Entry) {
  for (const step of ['submit', 'publish']) {
    const r = await api.request.post(`/api/kb/entries/${e.id}/${step}`, { data: {} })
    expect(r.ok(), `${step}: ${await r.text()}`).toBeTruthy()
  }
}

/** The entry's row on the knowledge page, found by searching its (unique) title. */
async function kbRow(page: Page, title: string) {
  await page.locator('input[name=q]').fill(title)
  const row = page.locator('[data-testid=kb-table] .el-table__body tr', { hasText: title })
  await expect(row).toHaveCount(1)
  return row
}

function kbDialog(page: Page) {
  return page.locator('.el-dialog', { has: page.getByTestId('kb-form') })
}

test('an entry published at the centre answers a call on the agent screen', async ({ browser }) => {
  const word = token('zk')
  const title = `临时占道施工审批 ${word}`
  const answer = '临时占道施工须向区城管局申请，携带施工方案与安全承诺书到政务服务中心城管窗口办理，5 个工作日内答复。'

  // 督办员 writes the entry, submits it and publishes it.
  const sup = await loginAs(browser, 'supervisor')
  const page = sup.page
  await page.getByRole('menuitem', { name: '知识库' }).click()
  await expect(page.getByTestId('knowledge')).toBeVisible()
  await page.getByTestId('kb-new').click()
  const dialog = kbDialog(page)
  await expect(dialog).toBeVisible()
  await dialog.locator('input[name=title]').fill(title)
  await dialog.locator('textarea[name=answer]').fill(answer)
  await dialog.locator('textarea[name=questions]').fill(`${word} 占道施工去哪里审批\n门口要临时占道施工怎么办手续`)
  await dialog.getByRole('button', { name: '保存' }).click()
  await expectSuccess(page, '已新建')
  await expect(dialog).toBeHidden()

  let row = await kbRow(page, title)
  await expect(row.getByTestId('kb-state')).toHaveText('草稿')
  await expect(row.getByTestId('kb-version')).toHaveText('v1')
  await row.locator('[data-action=submit]').click()
  await expectSuccess(page, '已提交审核')
  await expect(row.getByTestId('kb-state')).toHaveText('待审核')
  await row.locator('[data-action=publish]').click()
  await expectSuccess(page, '已发布')
  await expect(row.getByTestId('kb-state')).toHaveText('已发布')
  await expect(row.getByTestId('kb-usage')).toHaveText('0')
  const code = (await row.locator('td').first().textContent())!.trim()
  expect(code).not.toBe('')

  // 话务员 types the caller's words: the entry shows in the knowledge panel; 即答办结 closes.
  const agent = await loginAs(browser, 'agent')
  const apage = agent.page
  const form = apage.getByTestId('accept-form')
  await expect(form).toHaveAttribute('data-ready', 'true')
  await form.locator('label', { hasText: '咨询' }).click()
  await form.locator('textarea[name=content]').fill(`来电人咨询：家门口要做 ${word} 占道施工，去哪里审批？`)
  const panel = apage.getByTestId('knowledge-panel')
  const hit = panel.locator('[data-testid=kb-hit]', { hasText: title })
  await expect(hit).toBeVisible()
  await expect(hit).toHaveAttribute('data-code', code)
  await expect(hit.locator('em').first()).toBeVisible()
  await expect(hit.getByTestId('kb-usage')).toContainText('0')
  await hit.getByRole('button', { name: '展开答案' }).click()
  await expect(hit.getByTestId('kb-answer')).toContainText('施工方案与安全承诺书')
  await hit.getByTestId('kb-instant').click()
  await apage.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
  await expect(apage.getByTestId('created')).toContainText('已即答办结')
  await expect(apage.getByTestId('created-cited')).toContainText(code)
  const number = (await apage.getByTestId('created-number').textContent())!.trim()
  expect(number).toMatch(/^\d{4}-\d{2}-\d{2}-\d+$/)
  // The form is ready for the next call; the panel is empty again.
  await expect(form.locator('textarea[name=content]')).toHaveValue('')
  await expect(panel.locator('[data-testid=kb-hit]')).toHaveCount(0)
  // The order is closed and names the entry it cited.
  await apage.getByTestId('created-number').click()
  await expect(apage.getByTestId('order-number')).toHaveText(number)
  await expect(apage.getByTestId('order-status')).toHaveText('已办结')
  await expect(apage.getByText(code).first()).toBeVisible()
  await expect(apage.getByTestId('timeline')).toContainText('即答办结')
  await closeContext(agent.context)

  // The entry has been used once.
  await page.reload()
  row = await kbRow(page, title)
  await expect(row.getByTestId('kb-usage')).toHaveText('1')
  await closeContext(sup.context)
})

test('a unit handler edits its own entry into a new version with a reason', async ({ browser }) => {
  const word = token('zh')
  const title = `物业维修资金使用流程 ${word}`
  const oldAnswer = '使用维修资金须经业主大会表决，向区住建局提交申请。'
  const newAnswer = '使用维修资金须经专有部分面积和人数均过三分之二的业主同意，向区住建局提交申请，7 个工作日内审核。'
  const reason = `政策调整：表决比例更新 ${word}`

  // The handler (住建局) writes a draft of its unit's entry.
  const api = await apiAs(browser, 'handler')
  const created = await createEntry(api, { title, answer: oldAnswer, questions: ['维修资金怎么用'] })
  expect(created.version).toBe(1)
  await api.close()

  const { context, page } = await loginAs(browser, 'handler')
  await page.goto('/knowledge')
  const row = await kbRow(page, title)
  await row.locator('[data-action=edit]').click()
  const dialog = kbDialog(page)
  await expect(dialog.locator('input[name=title]')).toHaveValue(title)
  await expect(dialog.locator('textarea[name=answer]')).toHaveValue(oldAnswer)
  await dialog.locator('textarea[name=answer]').fill(newAnswer)
  // The 修改说明 is required.
  await dialog.getByRole('button', { name: '保存' }).click()
  await expect(dialog.getByText('请填写修改说明')).toBeVisible()
  await dialog.locator('input[name=reason]').fill(reason)
  await dialog.getByRole('button', { name: '保存' }).click()
  await expectSuccess(page, '第 2 版')
  await expect(row.getByTestId('kb-version')).toHaveText('v2')

  // The detail: the new answer, the reason in the history, both versions.
  await row.locator('[data-action=view]').click()
  const detail = page.getByTestId('kb-detail')
  await expect(detail.getByTestId('kb-detail-answer')).toHaveText(newAnswer)
  await expect(detail.getByTestId('kb-history')).toContainText(reason)
  const versions = detail.getByTestId('kb-versions')
  await expect(versions.locator('.el-collapse-item')).toHaveCount(2)
  await versions.locator('.el-collapse-item__header', { hasText: '第 1 版' }).click()
  await expect(detail.getByTestId('kb-version-1')).toContainText(oldAnswer)
  await closeContext(context)
})

test('an admin adds synonyms and the search finds the entry by the other word', async ({ browser }) => {
  const word = token('zs')
  const other = token('zy')
  const title = `犬只登记办理 ${word}`

  const sup = await apiAs(browser, 'supervisor')
  const entry = await createEntry(sup, { title, answer: '携带犬只免疫证明到辖区派出所办理犬只登记。' })
  await publishEntry(sup, entry)
  await sup.close()

  // Before: the other word does not find it.
  const agentApi = await apiAs(browser, 'agent')
  const before = await (await agentApi.request.get(`/api/kb/search?q=${encodeURIComponent(other)}`)).json()
  expect(before.items.map((h: { code: string }) => h.code)).not.toContain(entry.code)

  // The admin adds the group on its own line.
  const { context, page } = await loginAs(browser, 'admin')
  await page.getByRole('menuitem', { name: '知识库同义词' }).click()
  await expect(page.getByTestId('admin-synonyms')).toBeVisible()
  const text = page.locator('textarea[name=synonyms]')
  const current = await text.inputValue()
  // A single word on a line is refused with its line number.
  await text.fill(`${current}\n${word}`.trim())
  await page.getByTestId('synonyms-save').click()
  await expect(page.getByTestId('synonym-problems')).toContainText(word)
  await text.fill(`${current}\n${word}，${other}`.trim())
  await page.getByTestId('synonyms-save').click()
  await expectSuccess(page, '已保存')
  // Saved as a group of two words (the comma became a space).
  await page.reload()
  await expect(page.locator('textarea[name=synonyms]')).toHaveValue(new RegExp(`${word} ${other}`))
  await closeContext(context)

  // After: the other word finds the entry, through the API and on the agent screen.
  const after = await (await agentApi.request.get(`/api/kb/search?q=${encodeURIComponent(other)}`)).json()
  expect(after.items.map((h: { code: string }) => h.code)).toContain(entry.code)
  await agentApi.close()
  const agent = await loginAs(browser, 'agent')
  const form = agent.page.getByTestId('accept-form')
  await expect(form).toHaveAttribute('data-ready', 'true')
  // Only the synonym: nothing else of the entry's words.
  await form.locator('textarea[name=content]').fill(other)
  await expect(agent.page.getByTestId('knowledge-panel').locator('[data-testid=kb-hit]', { hasText: title })).toBeVisible()
  await closeContext(agent.context)
})

test('a search that finds nothing can become an entry and be marked handled', async ({ browser }) => {
  const nothing = token('zn') + token('zm')
  const agentApi = await apiAs(browser, 'agent')
  const r = await (await agentApi.request.get(`/api/kb/search?q=${encodeURIComponent(nothing)}`)).json()
  expect(r.items).toHaveLength(0)
  await agentApi.close()

  const { context, page } = await loginAs(browser, 'supervisor')
  await page.goto('/knowledge?tab=misses')
  const misses = page.getByTestId('kb-misses')
  const row = misses.locator('.el-table__body tr', { hasText: nothing })
  await expect(row).toHaveCount(1)
  // 新建条目: the dialog has the search as its title.
  await row.locator('[data-action=create]').click()
  const dialog = kbDialog(page)
  await expect(dialog.locator('input[name=title]')).toHaveValue(nothing)
  await dialog.getByRole('button', { name: '取消' }).click()
  await expect(dialog).toBeHidden()
  // 已处理: gone from the list, and stays gone.
  await row.locator('[data-action=handled]').click()
  await expectSuccess(page, '已标记为已处理')
  await expect(misses.locator('.el-table__body tr', { hasText: nothing })).toHaveCount(0)
  await page.reload()
  await expect(page.getByTestId('kb-misses')).toBeVisible()
  await expect(page.getByTestId('kb-misses').locator('.el-table__body tr', { hasText: nothing })).toHaveCount(0)
  await closeContext(context)
})
