// 报表: the daily, weekly and monthly reports of a chosen period download as Excel workbooks
// and as PDF documents, and the reports the server generated on schedule are listed, each to
// download; a unit's staff has no reports.
import { readFile } from 'node:fs/promises'
import type { Download, Page } from '@playwright/test'
import { apiGet } from './api-steps'
import { closeContext, expect, expectSuccess, loginAs, quietMessages, shot, test } from './fixtures'

const pad = (n: number) => String(n).padStart(2, '0')
const iso = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
/** Yesterday, its week (Monday to Sunday) and last month, in China. */
function periods() {
  const now = new Date(Date.now() + 8 * 3600_000)
  const y = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1))
  const monday = new Date(y)
  monday.setUTCDate(y.getUTCDate() - ((y.getUTCDay() + 6) % 7))
  const sunday = new Date(monday)
  sunday.setUTCDate(monday.getUTCDate() + 6)
  const lm = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))
  return { yesterday: iso(y), monday: iso(monday), sunday: iso(sunday), month: `${lm.getUTCFullYear()}-${pad(lm.getUTCMonth() + 1)}` }
}

/**
 * Clicks a download button and checks the file of that name: an xlsx workbook (a zip) or, with
 * `pdf`, a PDF document.
 */
async function download(page: Page, button: ReturnType<Page['getByTestId']>, name: RegExp, pdf = false): Promise<Download> {
  const wait = page.waitForEvent('download')
  await button.click()
  const file = await wait
  expect(file.suggestedFilename()).toMatch(name)
  const bytes = await readFile((await file.path())!)
  if (pdf) {
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('%PDF')
    expect(bytes.subarray(-64).toString('latin1')).toContain('%%EOF')
  } else {
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK')
  }
  expect(bytes.length).toBeGreaterThan(2000)
  return file
}

test('a leader downloads the daily, weekly and monthly reports and the kept ones', async ({ browser }) => {
  const p = periods()
  // The server makes the reports of the periods that have ended as it starts: yesterday's, last
  // week's and last month's.
  await expect
    .poll(async () => (await apiGet<{ items: unknown[] }>(browser, 'leader', '/api/reports')).items.length, { timeout: 60_000 })
    .toBeGreaterThanOrEqual(3)

  const { context, page } = await loginAs(browser, 'leader')
  await page.getByRole('menuitem', { name: '报表' }).click()
  await expect(page).toHaveURL(/\/stats\/reports/)
  const make = page.getByTestId('report-make')

  // 日报: yesterday by default.
  await expect(page.getByTestId('report-kinds').getByRole('tab', { name: '日报' })).toHaveAttribute('aria-selected', 'true')
  await expect(make).toHaveAttribute('data-key', p.yesterday)
  await expect(page.getByTestId('report-covers')).toHaveText(p.yesterday)
  await download(page, page.getByTestId('report-download'), new RegExp(`^${p.yesterday}日报\\.xlsx$`))
  await expectSuccess(page, '已导出')
  // … and as a printable PDF.
  await expect(page.getByTestId('report-download-pdf')).toHaveText('下载日报（PDF）')
  await download(page, page.getByTestId('report-download-pdf'), new RegExp(`^${p.yesterday}日报\\.pdf$`), true)

  // 周报: the week of the chosen day, Monday to Sunday.
  await page.getByTestId('report-kinds').getByRole('tab', { name: '周报' }).click()
  await expect(page).toHaveURL(/kind=weekly/)
  await expect(make).toHaveAttribute('data-key', p.monday)
  await expect(page.getByTestId('report-covers')).toHaveText(`${p.monday} 至 ${p.sunday}`)
  await download(page, page.getByTestId('report-download'), new RegExp(`^${p.monday}周报\\.xlsx$`))
  await download(page, page.getByTestId('report-download-pdf'), new RegExp(`^${p.monday}周报\\.pdf$`), true)

  // 月报: last month by default.
  await page.getByTestId('report-kinds').getByRole('tab', { name: '月报' }).click()
  await expect(make).toHaveAttribute('data-key', p.month)
  await expect(page.getByTestId('report-covers')).toHaveText(`${p.month.slice(0, 4)}年${Number(p.month.slice(5))}月`)
  await download(page, page.getByTestId('report-download'), new RegExp(`^${p.month}月报\\.xlsx$`))
  await download(page, page.getByTestId('report-download-pdf'), new RegExp(`^${p.month}月报\\.pdf$`), true)

  // The kept reports: as many as the API lists, the scheduled ones among them.
  const kept = (await apiGet<{ items: { kind: string; name: string }[] }>(browser, 'leader', '/api/reports')).items
  const list = page.getByTestId('kept-reports')
  await page.getByRole('button', { name: '刷新' }).click()
  await expect(list).toHaveAttribute('data-loaded', 'true')
  await expect(list.getByTestId('kept-kind')).toHaveCount(kept.length)
  await expect(list.getByTestId('kept-period').filter({ hasText: p.yesterday }).first()).toBeVisible()
  await expect(list.getByTestId('kept-period').filter({ hasText: `${p.month.slice(0, 4)}年${Number(p.month.slice(5))}月` })).toHaveCount(1)
  await page.waitForTimeout(300)
  await quietMessages(page)
  await shot(page, 'reports.png')

  // Only the monthly ones, and last month's downloads as kept.
  await page.getByTestId('kept-kinds').getByText('月报').click()
  await expect(list.getByTestId('kept-kind')).toHaveCount(kept.filter((k) => k.kind === 'monthly').length)
  for (const k of await list.getByTestId('kept-kind').allTextContents()) expect(k).toBe('月报')
  const monthRow = list.locator('.el-table__row', { hasText: `${p.month.slice(0, 4)}年${Number(p.month.slice(5))}月` })
  await download(page, monthRow.getByTestId('kept-download'), new RegExp(`^${p.month}月报\\.xlsx$`))
  await closeContext(context)
})

test('a unit admin has no reports', async ({ browser }) => {
  const { context, page } = await loginAs(browser, 'unit_admin')
  await expect(page.getByRole('menuitem', { name: '报表' })).toHaveCount(0)
  await page.goto('/stats/reports')
  await expect(page.getByTestId('forbidden')).toBeVisible()
  await closeContext(context)
})
