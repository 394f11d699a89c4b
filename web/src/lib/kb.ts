// The knowledge base (知识库): entry states and the commands each one allows, the text forms of
// question lists and synonym groups, and the query the agent screen searches with.
import type { KbEntry, KbState } from '../api/types'

export const KB_STATE_LABELS: Record<KbState, string> = {
  draft: '草稿',
  review: '待审核',
  published: '已发布',
  expired: '已过期',
  withdrawn: '已撤回',
}

/** The tabs of the knowledge page: all entries, then one per state. */
export const KB_TABS: readonly { key: '' | KbState; label: string }[] = [
  { key: '', label: '全部' },
  { key: 'draft', label: '草稿' },
  { key: 'review', label: '待审核' },
  { key: 'published', label: '已发布' },
  { key: 'expired', label: '已过期' },
  { key: 'withdrawn', label: '已撤回' },
]

export function kbStateLabel(state: string | null | undefined): string {
  if (!state) return ''
  return (KB_STATE_LABELS as Record<string, string>)[state] ?? state
}

/** Element Plus tag type of a state. */
export function kbStateTag(state: string): 'success' | 'warning' | 'info' | 'danger' | 'primary' {
  switch (state) {
    case 'published':
      return 'success'
    case 'review':
      return 'warning'
    case 'expired':
      return 'danger'
    case 'draft':
      return 'primary'
    default:
      return 'info'
  }
}

export type KbAction = 'edit' | 'submit' | 'publish' | 'reject' | 'withdraw'

export const KB_ACTION_LABELS: Record<KbAction, string> = {
  edit: '编辑',
  submit: '提交审核',
  publish: '发布',
  reject: '退回',
  withdraw: '撤回',
}

/** Commands that need a reason (退回修改, 撤回). */
export const KB_REASON_ACTIONS: readonly KbAction[] = ['reject', 'withdraw']

/** The commands offered for an entry, from its state and the server's flags for this user. */
export function kbActions(e: Pick<KbEntry, 'state' | 'live_version' | 'can_edit' | 'can_review' | 'can_withdraw'>): KbAction[] {
  const out: KbAction[] = []
  if (e.can_edit) out.push('edit')
  if (e.can_edit && e.state === 'draft') out.push('submit')
  // A reviewer may publish a draft directly, and send back one under review.
  if (e.can_review && (e.state === 'review' || e.state === 'draft')) out.push('publish')
  if (e.can_review && e.state === 'review') out.push('reject')
  // Withdrawing takes an entry out of search: not offered for a draft that never went live.
  if (e.can_withdraw && e.state !== 'withdrawn' && (e.state !== 'draft' || e.live_version !== null)) out.push('withdraw')
  return out
}

/**
 * Roles that may create entries (the server decides; this only hides the button from roles
 * that only read: agents, callback staff, leaders).
 */
export const KB_AUTHOR_ROLES: readonly string[] = ['admin', 'supervisor', 'dispatcher', 'handler', 'unit_admin']
/** Roles that may import (imports publish: centre reviewers). */
export const KB_IMPORT_ROLES: readonly string[] = ['admin', 'supervisor']
/** Roles that see the searches that found nothing (centre reviewers and unit admins). */
export const KB_MISS_ROLES: readonly string[] = ['admin', 'supervisor', 'unit_admin']

/** Non-empty trimmed lines, each once, in order (question variants, one per line). */
export function parseLines(text: string): string[] {
  const out: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim()
    if (t && !out.includes(t)) out.push(t)
  }
  return out
}

export function formatLines(lines: readonly string[] | null | undefined): string {
  return (lines ?? []).join('\n')
}

/** Separators between the words of a synonym group: spaces and (full- or half-width) commas. */
const SYNONYM_SEP = /[\s,，、;；]+/u

export interface ParsedSynonyms {
  groups: string[][]
  /** Problems by line, e.g. `第 3 行只有一个词“医保”`. */
  problems: string[]
}

/** One group per line, words separated by spaces or commas; a word is kept once per group. */
export function parseSynonyms(text: string): ParsedSynonyms {
  const groups: string[][] = []
  const problems: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const words: string[] = []
    for (const w of line.split(SYNONYM_SEP)) {
      const t = w.trim()
      if (t && !words.includes(t)) words.push(t)
    }
    if (words.length === 0) return
    if (words.length === 1) problems.push(`第 ${i + 1} 行只有一个词“${words[0]}”，同义词组至少要两个词`)
    else groups.push(words)
  })
  return { groups, problems }
}

export function formatSynonyms(groups: readonly (readonly string[])[]): string {
  return groups.map((g) => g.join(' ')).join('\n')
}

/** The longest query the agent screen sends (the start of what the caller said). */
export const LIVE_QUERY_MAX = 200

/**
 * What the agent screen searches with: the title (if any) and the content, spaces collapsed,
 * cut to `max` characters; empty when there is too little to search (fewer than 2 letters).
 */
export function liveQuery(parts: readonly (string | null | undefined)[], max = LIVE_QUERY_MAX): string {
  const text = parts
    .map((p) => (p ?? '').trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\s+/g, ' ')
  const chars = Array.from(text)
  const letters = chars.filter((c) => /[\p{L}\p{N}]/u.test(c)).length
  if (letters < 2) return ''
  return chars.length > max ? chars.slice(0, max).join('').trim() : text
}

/** `2026-01-01 至 2026-12-31`, `2026-01-01 起`, `至 2026-12-31`, or `长期`. */
export function validityText(from: string | null | undefined, to: string | null | undefined): string {
  if (from && to) return `${from} 至 ${to}`
  if (from) return `${from} 起`
  if (to) return `至 ${to}`
  return '长期'
}

/** An import error: the server's message and where (`line 3: title` → `第 3 行：title`). */
export function importErrorText(message: string, field: string | null | undefined): string {
  if (!field) return `导入失败：${message}`
  const where = field.replace(/^line\s+(\d+)\s*:\s*/i, '第 $1 行：').replace(/^line\s+(\d+)$/i, '第 $1 行')
  return `导入失败：${message}（${where}）`
}
