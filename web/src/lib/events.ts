// One line of detail for each step of an order's history (一单到底), from the event payload.
import type { OrderEvent } from '../api/types'
import { peerKindLabel } from './transfers'

const STAGES: Record<string, string> = {
  dispatch: '派单',
  sign: '签收',
  reply: '办理反馈',
  check: '核验',
  callback: '回访',
}
const ROLES: Record<string, string> = { lead: '主办', co: '协办', sub: '下派' }
const LEVELS: Record<string, string> = { daily: '日常督办', key: '重点督办', task_force: '专班调度' }
const SATISFACTION: Record<string, string> = {
  satisfied: '满意',
  basically_satisfied: '基本满意',
  dissatisfied: '不满意',
}

type P = Record<string, unknown>
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null)

function dueOf(v: unknown, fmt: (iso: string) => string): string | null {
  if (v && typeof v === 'object' && 'due' in v) {
    const d = str((v as P).due)
    return d ? fmt(d) : null
  }
  return null
}

/** The details worth showing for an event, as short lines. */
export function describeEvent(
  e: Pick<OrderEvent, 'kind' | 'payload' | 'reason'>,
  unitName: (id: number) => string,
  fmt: (iso: string) => string,
): string[] {
  const p = (e.payload ?? {}) as P
  const out: string[] = []
  switch (e.kind) {
    case 'accepted': {
      const d = dueOf(p.dispatch, fmt)
      if (d) out.push(`派单时限 ${d}`)
      break
    }
    case 'dispatched': {
      const targets = Array.isArray(p.targets) ? p.targets : []
      const names = targets
        .map((t) => {
          if (Array.isArray(t)) return `${unitName(Number(t[0]))}（${ROLES[String(t[1])] ?? t[1]}）`
          if (t && typeof t === 'object') {
            const o = t as P
            return `${unitName(Number(o.unit_id))}（${ROLES[String(o.role)] ?? o.role}）`
          }
          return ''
        })
        .filter(Boolean)
      if (names.length) out.push(`派至 ${names.join('、')}`)
      const reply = dueOf(p.reply, fmt)
      if (reply) out.push(`反馈时限 ${reply}`)
      const sign = dueOf(p.sign, fmt)
      if (sign) out.push(`签收时限 ${sign}`)
      if (str(p.note)) out.push(`说明：${p.note}`)
      break
    }
    case 'returned':
    case 'withdrawn':
    case 'invalidated':
    case 'closed_without_callback':
    case 'amended':
      if (str(p.reason)) out.push(`原因：${p.reason}`)
      break
    case 'note_added':
      if (str(p.text)) out.push(String(p.text))
      break
    case 'attachment_added': {
      const a = p.attachment as P | undefined
      if (a && str(a.name)) out.push(`附件：${a.name}`)
      break
    }
    case 'extension_requested':
      out.push(`申请延期 ${p.days} 个工作日${str(p.reason) ? `：${p.reason}` : ''}`)
      break
    case 'extension_decided': {
      if (str(p.comment)) out.push(`意见：${p.comment}`)
      const d = dueOf(p.reply, fmt)
      if (d) out.push(`新的反馈时限 ${d}`)
      break
    }
    case 'replied':
      if (str(p.content)) out.push(String(p.content))
      if (p.contacted_citizen === true) out.push('已联系诉求人')
      break
    case 'checked':
      if (str(p.comment)) out.push(`意见：${p.comment}`)
      break
    case 'called_back': {
      const s = SATISFACTION[String(p.satisfaction)] ?? String(p.satisfaction ?? '')
      out.push(`${s}，${p.resolved ? '已解决' : '未解决'}`)
      if (str(p.comment)) out.push(`回访记录：${p.comment}`)
      const d = dueOf(p.rehandle, fmt)
      if (d) out.push(`退回重办，反馈时限 ${d}`)
      if (p.escalated === true) out.push('重办后仍不满意：办结并转督办')
      break
    }
    case 'instant_answered': {
      const a = p.answer as P | undefined
      if (a && str(a.knowledge_entry_id)) out.push(`知识库条目 ${a.knowledge_entry_id}`)
      if (a && str(a.answer)) out.push(String(a.answer))
      break
    }
    case 'merged_into':
    case 'merged_from': {
      const r = (p.target ?? p.source) as P | undefined
      if (r && str(r.number)) out.push(`${e.kind === 'merged_into' ? '并入' : '来自'} ${r.number}`)
      if (str(p.reason)) out.push(`原因：${p.reason}`)
      break
    }
    case 'reminder_sent': {
      const stage = STAGES[String(p.stage)] ?? String(p.stage ?? '')
      const m = Number(p.minutes_left)
      const left = m >= 60 ? `${Math.round(m / 60)} 小时` : `${m} 分钟`
      out.push(`${stage}时限剩余约 ${left}`)
      break
    }
    case 'overdue_marked':
      out.push(`${STAGES[String(p.stage)] ?? p.stage}已逾期`)
      break
    case 'supervised': {
      const n = (p.notice ?? {}) as P
      const level = LEVELS[String(n.level)] ?? ''
      const to = n.unit_id !== undefined ? `致 ${unitName(Number(n.unit_id))}` : ''
      const head = [level, to].filter(Boolean).join('，')
      if (head) out.push(head)
      if (str(n.content)) out.push(String(n.content))
      if (str(n.respond_by)) out.push(`回复时限 ${fmt(String(n.respond_by))}`)
      break
    }
    case 'notice_responded':
      if (p.no !== undefined) out.push(`回复第 ${p.no} 号督办通知`)
      if (str(p.content)) out.push(String(p.content))
      break
    case 'callback_not_reached':
      if (p.attempt !== undefined) out.push(`第 ${p.attempt} 次未接通`)
      if (str(p.note)) out.push(String(p.note))
      break
    case 'transfer_requested': {
      const t = (p.transfer ?? {}) as P
      if (str(t.peer)) out.push(`转至 ${t.peer}${str(t.kind) ? `（${peerKindLabel(String(t.kind))}）` : ''}`)
      if (str(t.reason)) out.push(`原因：${t.reason}`)
      if (t.close_on_accept === true) out.push('对方接收后办结本单')
      else if (t.close_on_accept === false) out.push('对方接收后本单继续办理')
      break
    }
    case 'transfer_accepted':
      if (str(p.remote_ref)) out.push(`对方编号 ${p.remote_ref}`)
      break
    case 'transfer_failed':
      if (str(p.reason)) out.push(`原因：${p.reason}`)
      break
    case 'transfer_status':
      if (str(p.status)) out.push(`对方进展：${p.status}`)
      if (str(p.note) && p.note !== p.status) out.push(String(p.note))
      break
  }
  if (e.reason && !out.some((l) => l.includes(e.reason!))) out.push(`原因：${e.reason}`)
  return out
}

/** Timeline dot colours by kind. */
export function eventTone(kind: string): 'primary' | 'success' | 'warning' | 'danger' | 'info' {
  if (['overdue_marked', 'returned', 'invalidated', 'withdrawn', 'supervised', 'transfer_failed'].includes(kind)) return 'danger'
  if (['reminder_sent', 'extension_requested', 'callback_not_reached'].includes(kind)) return 'warning'
  if (['called_back', 'instant_answered', 'closed_without_callback', 'checked', 'transfer_accepted'].includes(kind)) return 'success'
  if (['note_added', 'attachment_added'].includes(kind)) return 'info'
  return 'primary'
}
