// The dispatch catalogue (派单目录): an admin adds a rule and publishes it with a reason; the
// version shows in the history with who and why; a publication on a stale version is refused
// (409) and the page offers to reload; a dispatcher reads the catalogue without editing it.
import { apiAs, closeContext, expect, expectSuccess, loginAs, pickUnit, test } from './fixtures'

const HOUSING = '市住房和城乡建设局'

test('an admin publishes a catalogue rule; a stale publication is refused', async ({ browser }) => {
  const api = await apiAs(browser, 'admin')
  const before = await (await api.request.get('/api/dispatch/catalogue')).json()
  const suffix = String(Date.now()).slice(-5)
  const reason = `新增物业服务派单规则 ${suffix}`

  const { context, page } = await loginAs(browser, 'admin')
  await page.goto('/admin/dispatch-catalogue')
  await expect(page.getByTestId('dispatch-catalogue')).toBeVisible()
  await expect(page.getByTestId('catalogue-version')).toBeVisible()
  const rows = page.locator('[data-testid=catalogue-rules] .el-table__body tr')
  const count = before.rules.length

  // A new rule: 物业服务 (with the words 电梯 and 物业费) → 住建局 leads, the territorial unit helps.
  await page.getByTestId('catalogue-add').click()
  const form = page.getByTestId('rule-form')
  const dialog = page.locator('.el-dialog', { has: form })
  await expect(form).toBeVisible()
  // Without a unit the rule is refused on the unit's field.
  await dialog.getByRole('button', { name: '确定' }).click()
  await expect(form.locator('[data-field=category] .el-form-item__error')).toBeVisible()
  await expect(form.getByText('请指定单位')).toBeVisible()
  await form.locator('[data-field=category] input').click()
  await form.locator('[data-field=category] input').fill('物业服务')
  await page.locator('.el-cascader__dropdown:visible .el-cascader__suggestion-item', { hasText: '物业服务' }).first().click()
  const kw = form.getByTestId('rule-keywords').locator('input')
  await kw.fill('电梯')
  await kw.press('Enter')
  await kw.fill(`物业费${suffix}`)
  await kw.press('Enter')
  await pickUnit(page, 'rule-unit-picker-0', '住房', HOUSING)
  await form.getByTestId('rule-add-territorial').click()
  await expect(form.getByTestId('rule-unit-1')).toContainText('属地单位')
  await form.locator('input[name=note]').fill('物业服务由住建局主办，属地街道协办')
  await dialog.getByRole('button', { name: '确定' }).click()
  await expect(dialog).toBeHidden()
  await expect(rows).toHaveCount(count + 1)
  const added = rows.nth(count)
  await expect(added).toContainText('物业服务')
  await expect(added).toContainText(HOUSING)
  await expect(added).toContainText('属地单位')
  await expect(page.getByTestId('catalogue-dirty')).toBeVisible()

  // Publish with a reason.
  await page.getByTestId('catalogue-publish').click()
  const pub = page.locator('.el-dialog', { has: page.getByTestId('publish-form') })
  await pub.getByRole('button', { name: '发布' }).click()
  await expect(pub.getByText('请填写发布原因')).toBeVisible()
  await pub.locator('textarea[name=reason]').fill(reason)
  await pub.getByRole('button', { name: '发布' }).click()
  const version = before.version + 1
  await expectSuccess(page, `已发布第 ${version} 版`)
  await expect(page.getByTestId('catalogue-version')).toContainText(`当前第 ${version} 版`)
  await expect(page.getByTestId('catalogue-dirty')).toHaveCount(0)

  // The history: the version with who and why; its rules read-only.
  await page.getByTestId('catalogue-history').click()
  const versions = page.getByTestId('catalogue-versions')
  const vrow = versions.locator('.el-table__body tr', { hasText: `第 ${version} 版` })
  await expect(vrow).toContainText(reason)
  await expect(vrow).toContainText('系统管理员')
  await page.getByTestId(`version-view-${version}`).click()
  await expect(page.getByTestId('version-rules')).toContainText(`物业费${suffix}`)
  await page.keyboard.press('Escape')

  // Someone else publishes meanwhile: this page's draft is on a stale version (409).
  const current = await (await api.request.get('/api/dispatch/catalogue')).json()
  expect(current.version).toBe(version)
  const rules = current.rules.map((r: { units: { unit_name?: string }[] }) => ({
    ...r,
    units: r.units.map(({ unit_name: _, ...u }) => u),
  }))
  const other = await api.request.put('/api/dispatch/catalogue', {
    data: { base_version: version, rules, reason: '另一位管理员的修改' },
  })
  expect(other.ok(), await other.text()).toBeTruthy()
  await rows.nth(count).getByTestId('rule-remove').click()
  await page.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
  await page.getByTestId('catalogue-publish').click()
  await pub.locator('textarea[name=reason]').fill('删除物业服务规则')
  await pub.getByRole('button', { name: '发布' }).click()
  const box = page.locator('.el-message-box', { hasText: '派单目录已被他人发布' })
  await expect(box).toBeVisible()
  await box.getByRole('button', { name: '重新加载' }).click()
  await expect(page.getByTestId('catalogue-version')).toContainText(`当前第 ${version + 1} 版`)
  await expect(rows).toHaveCount(count + 1)
  await closeContext(context)
  await api.close()

  // A dispatcher reads the catalogue, without the editing buttons.
  const d = await loginAs(browser, 'dispatcher')
  await d.page.getByRole('menuitem', { name: '派单目录' }).click()
  await expect(d.page.getByTestId('catalogue-rules')).toContainText(HOUSING)
  await expect(d.page.getByTestId('catalogue-publish')).toHaveCount(0)
  await expect(d.page.getByTestId('rule-edit')).toHaveCount(0)
  await d.page.getByText('建议采纳率').click()
  await expect(d.page.getByTestId('accuracy-category')).toBeVisible()
  await closeContext(d.context)
})
