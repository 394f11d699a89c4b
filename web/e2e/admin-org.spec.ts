// Administration, continued: the organisation tree (add a department, rename and deactivate it)
// and the printable 码上说 QR card, as the admin; and the same screens refused to a dispatcher.
import type { Page } from '@playwright/test'
import QRCode from 'qrcode'
import { baseUrl, closeContext, expect, expectSuccess, loginAs, shot, test } from './fixtures'

interface UnitRow {
  id: number
  parent_id: number | null
  kind: string
  name: string
  active: boolean
}

async function units(page: Page): Promise<UnitRow[]> {
  const r = await page.request.get('/api/units')
  expect(r.status()).toBe(200)
  return (await r.json()).items as UnitRow[]
}

/** The organisation tree of the units screen (not the unit pickers' dropdowns). */
function orgTree(page: Page) {
  return page.getByTestId('admin-units').locator(':scope > .el-tree')
}

/** A row (`.el-tree-node__content`) of the organisation tree whose label is exactly `name`. */
function treeRow(page: Page, name: string) {
  return orgTree(page).locator('.el-tree-node__content').filter({ has: page.getByText(name, { exact: true }) })
}

/** Reads the QR symbol in an <img> back into a grid of dark (true) / light (false) modules. */
async function readQrModules(page: Page, testid: string, size: number): Promise<boolean[]> {
  return page.getByTestId(testid).evaluate((el, n) => {
    const img = el as HTMLImageElement
    const c = document.createElement('canvas')
    c.width = img.naturalWidth
    c.height = img.naturalHeight
    const g = c.getContext('2d')!
    g.drawImage(img, 0, 0)
    const { data, width, height } = g.getImageData(0, 0, c.width, c.height)
    const dark = (x: number, y: number) => {
      const i = (y * width + x) * 4
      return data[i] * 0.299 + data[i + 1] * 0.587 + data[i + 2] * 0.114 < 128
    }
    // The finder patterns put dark pixels at three corners of the symbol: its bounding box.
    let x0 = width, y0 = height, x1 = -1, y1 = -1
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        if (dark(x, y)) {
          x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y)
        }
    const mw = (x1 - x0 + 1) / n
    const mh = (y1 - y0 + 1) / n
    const out: boolean[] = []
    for (let r = 0; r < n; r++)
      for (let col = 0; col < n; col++) out.push(dark(Math.floor(x0 + (col + 0.5) * mw), Math.floor(y0 + (r + 0.5) * mh)))
    return out
  }, size)
}

test('admin edits the organisation tree and prints the QR card; a dispatcher may do neither', async ({ browser }) => {
  const suffix = String(Date.now()).slice(-6)
  const CENTRE = 'A市12345政务服务便民热线'

  const { context, page } = await loginAs(browser, 'admin')

  await test.step('organisation: add a department under the city centre, rename and deactivate it', async () => {
    const before = await units(page)
    const centre = before.find((u) => u.parent_id === null && u.kind === 'city_centre')
    expect(centre?.name).toBe(CENTRE)
    // A fresh demo has no 市数据局; against a reused server, keep the names unique.
    const name = before.some((u) => u.name === '市数据局') ? `市数据局${suffix}` : '市数据局'
    const renamed = `${name}（大数据中心）`

    // Through the menu, as an admin would.
    await page.getByRole('menuitem', { name: '组织机构' }).click()
    await expect(page).toHaveURL(/\/admin\/units$/)
    await expect(page.getByTestId('admin-units')).toBeVisible()
    await expect(page.getByText(`共 ${before.length} 个单位`)).toBeVisible()
    await treeRow(page, CENTRE).first().getByRole('button', { name: '添加下级' }).click()
    const addDialog = page.locator('.el-dialog', { hasText: '新增单位' })
    await expect(addDialog).toBeVisible()
    // Adding below the city centre defaults to a 职能部门 under it.
    await expect(addDialog.locator('.el-form-item', { hasText: '类型' }).locator('.el-select')).toContainText('职能部门')
    await expect(addDialog.locator('.el-form-item', { hasText: '上级单位' })).toContainText(CENTRE)
    await addDialog.locator('input[name=name]').fill(name)
    await addDialog.getByRole('button', { name: '保存' }).click()
    await expectSuccess(page, '已保存')
    await expect(addDialog).toBeHidden()

    // In the tree, below the centre, as an active 职能部门.
    const centreNode = orgTree(page).locator('.el-tree-node').filter({ has: page.locator(':scope > .el-tree-node__content', { hasText: CENTRE }) })
    const row = treeRow(page, name)
    await expect(row).toHaveCount(1)
    await expect(centreNode.locator(':scope > .el-tree-node__children').locator('.el-tree-node__content', { hasText: name })).toHaveCount(1)
    await expect(row.locator('.el-tag', { hasText: '职能部门' })).toBeVisible()
    await expect(row.locator('.el-tag', { hasText: '已停用' })).toHaveCount(0)
    await expect(page.getByText(`共 ${before.length + 1} 个单位`)).toBeVisible()

    const created = (await units(page)).filter((u) => u.name === name)
    expect(created).toHaveLength(1)
    expect(created[0]).toMatchObject({ parent_id: centre!.id, kind: 'department', active: true })
    const id = created[0].id

    await expect(page.locator('.el-message')).toHaveCount(0)
    await shot(page, 'admin-units.png')

    // Rename and deactivate through the edit dialog.
    await row.getByRole('button', { name: '编辑' }).click()
    const editDialog = page.locator('.el-dialog', { hasText: '编辑单位' })
    await expect(editDialog).toBeVisible()
    await expect(editDialog.locator('input[name=name]')).toHaveValue(name)
    await editDialog.locator('input[name=name]').fill(renamed)
    const sw = editDialog.locator('.el-switch')
    await expect(sw).toHaveClass(/is-checked/)
    await sw.click()
    await expect(sw).not.toHaveClass(/is-checked/)
    await editDialog.getByRole('button', { name: '保存' }).click()
    await expectSuccess(page, '已保存')
    await expect(editDialog).toBeHidden()

    // Deactivated units are hidden unless asked for, then shown struck through and tagged.
    await expect(treeRow(page, name)).toHaveCount(0)
    await expect(treeRow(page, renamed)).toHaveCount(0)
    await page.getByText('显示已停用').click()
    const renamedRow = treeRow(page, renamed)
    await expect(renamedRow).toHaveCount(1)
    await expect(renamedRow.locator('.el-tag', { hasText: '已停用' })).toBeVisible()
    await expect(renamedRow.locator('.inactive')).toHaveText(renamed)

    const after = (await units(page)).find((u) => u.id === id)
    expect(after).toMatchObject({ id, name: renamed, parent_id: centre!.id, kind: 'department', active: false })
    expect((await units(page)).some((u) => u.name === name)).toBe(false)
  })

  await test.step('码上说: the card carries a QR code of <origin>/portal and can be printed', async () => {
    await page.goto('/admin/qrcode')
    await expect(page.getByTestId('admin-qrcode')).toBeVisible()
    const card = page.getByTestId('qr-card')
    const portal = `${new URL(baseUrl()).origin}/portal`
    expect(new URL(page.url()).origin).toBe(new URL(baseUrl()).origin)
    await expect(card.locator('.url')).toHaveText(portal)

    const img = card.getByTestId('qr-image')
    await expect(img).toBeVisible()
    await expect(img).toHaveAttribute('src', /^data:image\/png;base64,/)
    await expect.poll(() => img.evaluate((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth)).toBeGreaterThan(0)
    const box = await img.boundingBox()
    expect(box!.width).toBeGreaterThan(100)
    expect(box!.height).toBeGreaterThan(100)

    // The symbol drawn is the one for the portal address.
    const want = QRCode.create(portal, { errorCorrectionLevel: 'M' }).modules
    const got = await readQrModules(page, 'qr-image', want.size)
    expect(got).toEqual(Array.from(want.data, (b) => b === 1))
    // And the QR follows the link: another address draws another symbol.
    await page.locator('.controls input').first().fill(`${portal}?from=test`)
    await expect(card.locator('.url')).toHaveText(`${portal}?from=test`)
    await expect.poll(async () => (await readQrModules(page, 'qr-image', want.size)).join() === got.join()).toBe(false)
    await page.locator('.controls input').first().fill(portal)
    await expect.poll(async () => (await readQrModules(page, 'qr-image', want.size)).join() === got.join()).toBe(true)

    // The print button prints (window.print, stubbed here).
    const print = page.getByRole('button', { name: '打印' })
    await expect(print).toBeVisible()
    await expect(print).toBeEnabled()
    await page.evaluate(() => {
      const w = window as unknown as { __printed: number }
      w.__printed = 0
      window.print = () => void w.__printed++
    })
    await print.click()
    expect(await page.evaluate(() => (window as unknown as { __printed: number }).__printed)).toBe(1)

    await page.locator('.controls input').first().blur()
    await shot(page, 'admin-qr.png')
  })
  await closeContext(context)

  await test.step('a dispatcher gets no admin screen and the units API refuses it', async () => {
    const { context: dctx, page: dpage } = await loginAs(browser, 'dispatcher')
    await expect(dpage.getByRole('menuitem', { name: '审核派单' })).toBeVisible()
    await expect(dpage.getByRole('menuitem', { name: '组织机构' })).toHaveCount(0)
    await expect(dpage.getByRole('menuitem', { name: '码上说二维码' })).toHaveCount(0)
    for (const path of ['/admin/units', '/admin/qrcode']) {
      await dpage.goto(path)
      await expect(dpage.getByTestId('forbidden')).toBeVisible()
      await expect(dpage).toHaveURL(/\/forbidden/)
      await expect(dpage.getByTestId('admin-units')).toHaveCount(0)
      await expect(dpage.getByTestId('admin-qrcode')).toHaveCount(0)
      await expect(dpage.getByRole('button', { name: '新增单位' })).toHaveCount(0)
    }

    const all = await units(dpage)
    const centre = all.find((u) => u.parent_id === null)!
    const name = `越权单位${suffix}`
    // A same-origin fetch from the logged-in page, as the UI would send it.
    const res = await dpage.evaluate(async (body) => {
      const r = await fetch('/api/units', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: r.status, body: await r.json().catch(() => null) }
    }, { name, kind: 'department', parent_id: centre.id, region_code: null, active: true })
    expect(res.status).toBe(403)
    expect(res.body?.error?.code).toBe('forbidden')
    expect(res.body?.error?.message).toContain('管理员')
    // And through the context's request API (same cookies).
    const r2 = await dpage.request.post('/api/units', { data: { name, kind: 'department', parent_id: centre.id } })
    expect(r2.status()).toBe(403)
    expect((await units(dpage)).some((u) => u.name === name)).toBe(false)
    await closeContext(dctx)
  })
})
