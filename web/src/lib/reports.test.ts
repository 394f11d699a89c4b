import { describe, expect, it } from 'vitest'
import { isReportKind, keptReportUrl, mondayOf, reportFilename, reportKindLabel, reportPeriodText, reportUrl, sundayAfter } from './reports'

describe('reports', () => {
  it('finds the Monday-to-Sunday week of a day', () => {
    expect(mondayOf('2026-03-04')).toBe('2026-03-02') // a Wednesday
    expect(mondayOf('2026-03-02')).toBe('2026-03-02') // a Monday
    expect(mondayOf('2026-03-08')).toBe('2026-03-02') // a Sunday
    expect(mondayOf('2026-01-01')).toBe('2025-12-29') // across the year
    expect(sundayAfter('2025-12-29')).toBe('2026-01-04')
  })
  it('states what a report covers', () => {
    expect(reportPeriodText('daily', '2026-03-04')).toBe('2026-03-04')
    expect(reportPeriodText('weekly', '2026-03-04')).toBe('2026-03-02 至 2026-03-08')
    expect(reportPeriodText('monthly', '2026-03')).toBe('2026年3月')
  })
  it('asks the API for the period by date or month', () => {
    expect(reportUrl('daily', '2026-03-04')).toBe('/api/reports/daily?date=2026-03-04')
    expect(reportUrl('weekly', '2026-03-02')).toBe('/api/reports/weekly?date=2026-03-02')
    expect(reportUrl('monthly', '2026-03')).toBe('/api/reports/monthly?month=2026-03')
    expect(reportUrl('monthly', '2026-03', 'pdf')).toBe('/api/reports/monthly?month=2026-03&format=pdf')
    expect(reportUrl('daily', '2026-03-04', 'pdf')).toBe('/api/reports/daily?date=2026-03-04&format=pdf')
    expect(keptReportUrl('daily', '2026-03-04')).toBe('/api/reports/daily/2026-03-04')
  })
  it('names kinds and files', () => {
    expect(reportKindLabel('weekly')).toBe('周报')
    expect(isReportKind('monthly')).toBe(true)
    expect(isReportKind('yearly')).toBe(false)
    expect(reportFilename('weekly', '2026-03-04')).toBe('2026-03-02周报.xlsx')
    expect(reportFilename('monthly', '2026-03')).toBe('2026-03月报.xlsx')
    expect(reportFilename('weekly', '2026-03-04', 'pdf')).toBe('2026-03-02周报.pdf')
  })
})
