// Time-limit rules in words.
import type { TimeLimit, TimeRule } from '../api/types'

export const STAGE_LABELS: Record<string, string> = {
  dispatch: '派单',
  sign: '签收',
  reply: '办理反馈',
  check: '核验',
  callback: '回访',
}

const UNITS: Record<string, string> = {
  working_days: '个工作日',
  working_hours: '个工作小时',
  clock_hours: '小时',
  clock_minutes: '分钟',
}

export function describeLimit(l: TimeLimit): string {
  if (l.unit === 'immediate' || l.value === 0) return '即办'
  return `${l.value} ${UNITS[l.unit] ?? l.unit}`
}

export function describeWhen(w: TimeRule['when'], label: (code: string) => string = (c) => c): string {
  const parts: string[] = []
  if (w.emergency) parts.push('突发')
  if (w.complex) parts.push('疑难')
  if (w.request_types?.length) parts.push(w.request_types.map(label).join('/'))
  if (w.urgencies?.length) parts.push(w.urgencies.map(label).join('/'))
  return parts.length ? parts.join(' 且 ') : '其他所有诉求'
}
