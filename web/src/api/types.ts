// Shapes of the Jiesu API (see /api/openapi.json and crates/jiesu/src/api/*.rs).

export interface Coded {
  code: string
  label: string
}

export interface Me {
  user_id: number
  tenant_id: number
  username: string
  display_name: string
  unit_id: number
  unit_name: string
  unit_kind: string
  roles: string[]
}

export interface Meta {
  channels: Coded[]
  request_types: Coded[]
  urgencies: Coded[]
  statuses: Coded[]
  assignment_statuses: Coded[]
  satisfactions: Coded[]
  roles: Coded[]
  unit_kinds: Coded[]
}

export interface Category {
  code: string
  parent_code: string | null
  name: string
  level: number
  active: boolean
}

export interface Region {
  code: string
  parent_code: string | null
  name: string
  level: number
}

export interface Unit {
  id: number
  parent_id: number | null
  kind: string
  kind_label: string
  name: string
  region_code: string | null
  active: boolean
}

export interface User {
  id: number
  username: string
  display_name: string
  unit_id: number
  roles: string[]
  active: boolean
  system_account: boolean
}

export interface Token {
  id: number
  user_id: number
  name: string
  created_at: string
  expires_at?: string | null
  revoked: boolean
  /** The interfaces it may use: api, open311, transfer, telephony, grid. */
  scopes: string[]
}

/** A subscription of another system to order events (GET /api/webhooks). */
export interface Webhook {
  id: number
  name: string
  url: string
  /** Event kinds it receives; empty: all. */
  events: string[]
  active: boolean
  created_at: string
  /** Deliveries by status. */
  pending: number
  delivered: number
  dead: number
}

export interface Webhooks {
  items: Webhook[]
  /** The event kinds a subscription may name. */
  event_kinds: string[]
}

/** One event of one order sent (or to be sent) to one subscription, newest first. */
export interface WebhookDelivery {
  id: number
  order_id: number
  seq: number
  /** `order.<kind>`. */
  event_type: string
  /** pending, delivered or dead. */
  status: string
  attempts: number
  next_at: string
  created_at: string
  delivered_at: string | null
  /** The receiver's HTTP status of the last attempt, if it answered. */
  last_status: number | null
  last_error: string | null
}

export interface OrderSummary {
  id: number
  number: string
  channel: Coded
  request_type: Coded
  category: string | null
  title: string
  status: Coded
  urgency: Coded
  emergency: boolean
  region_code: string | null
  lead_unit_id: number | null
  citizen_name: string | null
  accepted_at: string
  updated_at: string
  current_due: string | null
  overdue: boolean
}

export interface OrderList {
  items: OrderSummary[]
  total: number
  total_capped: boolean
  next_cursor: string | null
}

export interface Assignment {
  no: number
  unit_id: number
  role: Coded
  parent: number | null
  status: Coded
  dispatched_at: string
  signed_at: string | null
  replied_at: string | null
  reply: string | null
  return_reason: string | null
}

export interface DeadlineItem {
  stage: Coded
  due: string
  start: string
  limit: string
  rule: string
  running: boolean
}

export interface Flags {
  emergency: boolean
  complex: boolean
  repeat: boolean
  confidential: boolean
  needs_contact: boolean
}

export interface Citizen {
  name: string | null
  phone: string | null
  id_number: string | null
  anonymous: boolean
  disclosure: string
}

export interface Extension {
  days: number
  reason: string
  requested_at: string
  requested_by: number
  approved: boolean | null
  decided_at: string | null
  decided_by: number | null
  comment: string | null
}

export interface OrderReply {
  unit_id: number
  content: string
  contacted_citizen: boolean
  at: string
  by: number
}

export interface CallbackResult {
  satisfaction: string
  resolved: boolean
  comment: string | null
  at: string
  by: number
}

export interface OrderRef {
  id: number
  number: string
}

export interface Order {
  id: number
  number: string
  channel: Coded
  request_type: Coded
  category: string | null
  title: string
  content: string
  citizen: Citizen
  address: string | null
  region_code: string | null
  lat: number | null
  lng: number | null
  urgency: Coded
  flags: Flags
  status: Coded
  closure: Coded | null
  centre_id: number
  lead_unit_id: number | null
  accepted_by: number
  accepted_at: string
  assignments: Assignment[]
  deadlines: {
    dispatch_due: string | null
    reply_due: string | null
    current_due: string | null
    overdue: boolean
    items: DeadlineItem[]
    late_stages: Coded[]
  }
  extension: Extension | null
  reply: OrderReply | null
  callback: CallbackResult | null
  instant_answer: { knowledge_entry_id: string; answer: string | null; knowledge_version?: number | null } | null
  merged_into: OrderRef | null
  merged_from: OrderRef[]
  /** Earlier orders this one repeats (same caller or same address); `flags.repeat` is true then. */
  repeat_of?: RepeatRef[]
  external_ref: string | null
  rehandle_count: number
  /** Callback attempts that did not reach the citizen in the current round (the third closes the order). */
  callback_attempts: number
  /** Not satisfied after the last round of re-handling: closed and handed to supervision (转督办). */
  escalated: boolean
  /** The highest supervision level (`daily`, `key`, `task_force`), if supervised. */
  supervision: Coded | null
  /** Supervision notices to units, in the order issued, with their responses. */
  notices: SupervisionNotice[]
  /** Transfers to other platforms (110, utility hotlines, …), in the order requested. */
  transfers?: OrderTransfer[]
  updated_at: string
  closed_at: string | null
  version: number
}

export type NoticeKind = 'reminder' | 'supervision'
export type SupervisionLevel = 'daily' | 'key' | 'task_force'

/** A supervision notice (提示单/督办单) to a unit, with the response it requires. */
export interface SupervisionNotice {
  /** 1-based position in `Order.notices`. */
  no: number
  kind: NoticeKind
  level: SupervisionLevel
  unit_id: number
  content: string
  /** The unit must respond by then. */
  respond_by: string
  issued_at: string
  issued_by: number
  response: { content: string; at: string; by: number } | null
}

export interface SuperviseRequest {
  kind: NoticeKind
  level: SupervisionLevel
  /** Default: the lead unit. */
  unit_id?: number
  content: string
  /** 1–240. */
  respond_within_hours: number
}

export interface OrderDeadline extends DeadlineItem {
  late: boolean
  explanation: string
}

export interface OrderEvent {
  seq: number
  at: string
  kind: string
  label: string
  actor: { user_id: number; username: string; role: string; unit_id: number }
  from: Coded | null
  to: Coded
  reason: string | null
  payload: Record<string, unknown>
  prev_hash: string
  hash: string
}

export interface Notice {
  id: number
  unit_id: number
  order_id: number
  order_number: string
  kind: string
  stage: string
  due_at: string
  message: string
  created_at: string
  read_at: string | null
}

export interface Attachment {
  id: number | string
  name: string
  content_type: string
  size: number
  uploaded_at: string
  uploaded_by: number | string
}

export interface CreateOrderRequest {
  channel: string
  request_type: string
  category?: string
  title?: string
  content: string
  citizen?: { name?: string; phone?: string; id_number?: string; anonymous?: boolean }
  address?: string
  region_code?: string
  urgency?: string
  flags?: Partial<Flags>
  instant_answer?: { knowledge_entry_id: string; answer?: string }
}

// ---- knowledge base (知识库) ----

export type KbState = 'draft' | 'review' | 'published' | 'expired' | 'withdrawn'

/** The editable part of an entry (POST body; PUT adds `expected_version` and a required `reason`). */
export interface KbEntryInput {
  title: string
  answer: string
  questions?: string[]
  tags?: string[]
  category?: string | null
  unit_id?: number | null
  region?: string | null
  effective_from?: string | null
  effective_to?: string | null
  reason?: string
  expected_version?: number
}

/** An entry as the list and the edit commands return it (EntryDto). */
export interface KbEntry {
  id: number
  code: string
  state: KbState
  state_label: string
  /** The latest version (the one shown and edited). */
  version: number
  /** The version search serves; null when none is published. */
  live_version: number | null
  title: string
  answer: string
  questions: string[]
  tags: string[]
  category: string | null
  category_name: string | null
  unit_id: number | null
  unit_name: string | null
  region: string | null
  region_name: string | null
  effective_from: string | null
  effective_to: string | null
  /** Published and ending within 30 days. */
  expiring: boolean
  /** Times cited by an instant answer (即答). */
  usage: number
  created_by: string
  created_at: string
  updated_by: string
  updated_at: string
  can_edit: boolean
  can_review: boolean
  can_withdraw: boolean
}

export interface KbHistoryItem {
  version: number
  action: string
  action_label: string
  from_state: KbState | null
  to_state: KbState
  actor: string
  at: string
  reason: string | null
}

export interface KbEntryDetail extends KbEntry {
  /** Newest first. */
  history: KbHistoryItem[]
}

export interface KbVersion {
  version: number
  title: string
  answer: string
  questions: string[]
  tags: string[]
  category: string | null
  unit_id: number | null
  region: string | null
  effective_from: string | null
  effective_to: string | null
  author: string
  at: string
  reason: string | null
}

export interface KbEntryList {
  items: KbEntry[]
  total: number
}

/** A search hit: `highlight` is HTML-escaped text with only `<em>` tags added by the server. */
export interface KbHit {
  id: number
  code: string
  version: number
  title: string
  score: number
  highlight: string
  answer: string
  category: string | null
  category_name: string | null
  unit_id: number | null
  unit_name: string | null
  effective_to: string | null
  usage: number
}

export interface KbHits {
  items: KbHit[]
  total: number
}

/** A search that found nothing (未找到答案的搜索). */
export interface KbMiss {
  text: string
  count: number
  first_at: string
  last_at: string
}

export interface KbSynonyms {
  groups: string[][]
}

export interface KbImportResult {
  imported: number
  published: number
}

export interface DispatchTarget {
  unit_id: number
  role: AssignRole
}

// ---- dispatch aids (派单目录, 智能建议) ----

export type AssignRole = 'lead' | 'co'

export interface CatalogueUnit {
  /** `unit`: a fixed unit; `territorial` (属地): the unit serving the order's region. */
  kind: 'unit' | 'territorial'
  unit_id?: number | null
  role: AssignRole
  /** Answers only. */
  unit_name?: string | null
}

export interface CatalogueRule {
  category: string
  region: string | null
  keywords: string[]
  units: CatalogueUnit[]
  priority: number
  note: string
}

export interface Catalogue {
  /** 0 before the first publication. */
  version: number
  rules: CatalogueRule[]
  published_at: string | null
  published_by: string | null
  reason: string | null
}

export interface PublishCatalogueRequest {
  base_version: number
  rules: CatalogueRule[]
  reason: string
}

export interface SuggestionPick {
  code: string
  name: string
  /** Calibrated, 0–1. */
  probability: number
}

export interface RegionPick {
  code: string
  /** Names from the top. */
  path: string[]
  /** Place words found in the text. */
  words: string[]
  /** Equally likely codes when the text could mean several places. */
  ambiguous: string[]
}

export interface UnitPick {
  unit_id: number
  name: string
  role: AssignRole
  source: 'catalogue' | 'history'
}

export interface RulePick {
  version: number
  index: number
  category: string
  region: string | null
  keyword: string | null
  note: string
}

export interface Suggestion {
  category: SuggestionPick | null
  alternatives: SuggestionPick[]
  /** The words that drove the category. */
  reasons: string[]
  request_type: SuggestionPick | null
  region: RegionPick | null
  /** Lead first. */
  units: UnitPick[]
  rule: RulePick | null
  /** Orders the models learned from; 0: keywords and catalogue only. */
  learned_from: number
}

export interface DayAccuracy {
  date: string
  dispatches: number
  category_hits: number
  unit_hits: number
  type_hits: number
}

export interface Accuracy {
  items: DayAccuracy[]
  dispatches: number
  category_rate: number
  unit_rate: number
  type_rate: number
}

// ---- insight (研判分析) ----

export interface CodeName {
  code: string
  name: string
}

export interface Hotspot {
  key: string
  title: string
  representative_id: number
  place: string
  words: string[]
  size: number
  /** Orders in the last 7 days. */
  recent: number
  /** Orders in the 7 days before. */
  previous: number
  /** Distinct callers (reach). */
  callers: number
  first: string | null
  last: string | null
  /** Orders not yet closed. */
  open: number
  category: CodeName | null
  region: CodeName | null
}

export interface HotspotList {
  /** False while the server still builds the clusters after a start. */
  ready: boolean
  window_days: number
  orders: number
  items: Hotspot[]
}

export interface HotspotOrder {
  id: number
  number: string
  title: string
  /** A coded status (or its bare code). */
  status: Coded | string
  accepted_at: string
  region_code: string | null
}

export interface HotspotDetail extends Hotspot {
  /** Newest first. */
  orders: HotspotOrder[]
}

export type WarningLevel = 'red' | 'yellow'

export interface InsightWarning {
  category: CodeName
  region: CodeName
  /** Orders that day. */
  count: number
  /** Mean per day over the 28 days before. */
  baseline: number
  ratio: number
  level: WarningLevel
  /** Mean per day in the same ±7 days a year earlier. */
  last_year: number
}

export interface InsightWarnings {
  date: string
  items: InsightWarning[]
}

export interface TrendPoint {
  /** `2026-01` */
  month: string
  count: number
  last_year: number
}

export interface InsightSettings {
  repeat_window_days: number
  repeat_min_similarity: number
  hotspot_window_days: number
  warning_min_count: number
}

export interface RepeatRef {
  id: number
  number: string
  title: string
  basis: 'caller' | 'address'
  /** 同一来电人 / 同一地址 */
  basis_label?: string
  similarity: number
  accepted_at: string
}

export interface DuplicateOrder {
  id: number
  number: string
  title: string
  /** A coded status (or its bare code). */
  status: Coded | string
  accepted_at: string
  similarity: number
}

export interface CalendarInfo {
  years: [number, number]
  working_hours: string
  holidays: Record<string, string>
  makeup_workdays: Record<string, string>
  closures: Record<string, string>
}

export interface TimeLimit {
  unit: string
  value: number
}

export interface TimeRule {
  name: string
  when: {
    request_types?: string[]
    urgencies?: string[]
    emergency?: boolean
    complex?: boolean
  }
  limits: Record<string, TimeLimit>
}

export interface TimeRules {
  preset: string
  rules: TimeRule[]
  reminders: number[]
  max_extension_days: number
}

// ---- citizen portal (public, no login) ----

export interface PublicMeta {
  centre_name: string
  request_types: Coded[]
  categories: PublicNode[]
  regions: PublicNode[]
  satisfactions?: Coded[]
}

/** A category or region of the public pickers (`parent` or `parent_code` names the parent). */
export interface PublicNode {
  code: string
  name: string
  parent?: string | null
  parent_code?: string | null
  active?: boolean
}

export interface PublicCreated {
  number: string
  query_code: string
  accepted_at: string
}

export interface PublicRequest {
  number: string
  status: string
  status_label: string
  accepted_at: string
  request_type_label: string
  category_label?: string | null
  content: string
  steps: { at: string; label: string }[]
  reply: { content: string; at: string; unit_name: string } | null
  can_rate: boolean
  rating: { satisfaction: string; satisfaction_label: string; comment?: string | null; at: string } | null
}

// ---- statistics and evaluation (统计考核) ----

/** The counts behind the rates (orders accepted in the period). */
export interface StatCounts {
  accepted: number
  instant: number
  dispatched: number
  signed_on_time: number
  completed: number
  completed_on_time: number
  callback_due: number
  callback_done: number
  called_back: number
  satisfied: number
  basically_satisfied: number
  dissatisfied: number
  resolved: number
  rehandled: number
  /** … whose lead let its sign-for or reply deadline pass (逾期). */
  late: number
  /** … closed unsatisfied after the last round of re-handling (转督办). */
  escalated: number
}

export type StatMeasure = keyof StatCounts

export interface CompositeWeights {
  response: number
  resolution: number
  satisfaction: number
}

/** How the satisfaction rate and the composite score are computed. */
export interface Deductions {
  /** Points per late order. */
  late: number
  /** Points per escalated order. */
  escalated: number
}

export interface StatFormulas {
  basically_satisfied_weight: number
  composite: CompositeWeights
  /** Points off the evaluation score per order. */
  deductions?: Deductions
  /** Later additions (e.g. deductions) travel through unchanged. */
  [more: string]: unknown
}

/** Rates are fractions 0–1, null where nothing was there to count. */
export interface StatRates {
  from: string
  to: string
  unit_id: number | null
  unit_name: string | null
  response_rate: number | null
  completion_rate: number | null
  on_time_rate: number | null
  resolution_rate: number | null
  satisfaction_rate: number | null
  instant_answer_rate: number | null
  callback_rate: number | null
  /** 接通率 = calls answered / (answered + abandoned); only for the whole centre with no cut, where calls were reported. */
  connect_rate?: number | null
  /** The calls behind `connect_rate`. */
  calls?: CallCounts | null
  counts: StatCounts
  formulas: StatFormulas
}

export interface StatOrders {
  total: number
  items: OrderSummary[]
}

export interface RankedUnit {
  unit_id: number
  unit_name: string
  rank: number | null
  /** The composite score 0–100. */
  score: number | null
  /** Points taken off (late and escalated orders). */
  deduction?: number
  /** 考核得分: the score less the deduction (at least 0); ranks by it. */
  evaluation?: number | null
  response_rate: number | null
  completion_rate: number | null
  on_time_rate: number | null
  resolution_rate: number | null
  satisfaction_rate: number | null
  counts: StatCounts
}

export interface StatRanking {
  from: string
  to: string
  kind: string
  formulas: StatFormulas
  items: RankedUnit[]
}

export interface FormulaPreset {
  name: string
  /** The formulas stated in Chinese. */
  label: string
  formulas: StatFormulas
}

// ---- supervision board, cockpit, evaluation, reports ----

export interface BoardSection {
  /** How many orders the list has (at most 200 are listed). */
  total: number
  items: OrderSummary[]
}

/** The supervisor's board (督办看板, GET /api/supervision/board). */
export interface SupervisionBoard {
  overdue: BoardSection
  returned_twice: BoardSection
  rehandled: BoardSection
  repeats: BoardSection
  escalated: BoardSection
  notices_pending: BoardSection
  notices_overdue: BoardSection
}

export interface CockpitDistrict {
  code: string
  name: string
  /** Orders over the last 30 days. */
  orders: number
}

export interface CockpitWarning {
  category: string
  region: string
  count: number
  baseline: number
  level: WarningLevel | string
}

/** The leader cockpit (领导驾驶舱, GET /api/cockpit). */
export interface Cockpit {
  today: string
  accepted_today: number
  /** This month so far. */
  month: StatRates
  /** The best departments this month (at most 10). */
  departments: RankedUnit[]
  /** Most first. */
  districts: CockpitDistrict[]
  /** The last 30 days, oldest first. */
  trend: { date: string; orders: number }[]
  warnings: CockpitWarning[]
}

export interface EvaluationLine {
  unit_id: number
  unit_name: string
  rank: number | null
  /** The evaluation score as computed (frozen once the month is closed). */
  evaluation: number | null
  /** Adjustments made after closing, in points. */
  adjustment: number
  /** evaluation + adjustment, within 0–100. */
  adjusted: number | null
  score: number | null
  deduction: number
  dispatched: number
  late: number
  escalated: number
  response_rate: number | null
  completion_rate: number | null
  on_time_rate: number | null
  resolution_rate: number | null
  satisfaction_rate: number | null
}

export interface EvaluationAdjustment {
  unit_id: number
  points: number
  reason: string
  at: string | null
  by: string
}

/** A month's evaluation of one peer group (GET /api/evaluations/{YYYY-MM}?kind=). */
export interface Evaluation {
  month: string
  kind: string
  closed: boolean
  closed_at: string | null
  closed_by: string | null
  formulas: StatFormulas
  items: EvaluationLine[]
  adjustments: EvaluationAdjustment[]
}

export interface YearEvaluation {
  year: number
  kind: string
  /** The closed months it is made of. */
  months: string[]
  items: { unit_id: number; unit_name: string; rank: number; mean: number; months: number }[]
}

export type ReportKind = 'daily' | 'weekly' | 'monthly'

export interface KeptReport {
  kind: ReportKind | string
  /** The day, the week's Monday or the month. */
  name: string
  generated_at: string | null
}

// ---- 每月一题 (the month's hard cases) ----

/** The pick of an issue as one of the month's hard cases. */
export interface HardCasePick {
  unit_id: number | null
  unit_name: string | null
  note: string
  by_name: string
  at: string
}

/** One issue of a month: a category's first two levels in a district. */
export interface HardCase {
  category_code: string
  category_name: string
  district_code: string
  district_name: string
  counts: StatCounts
  /** Fractions 0–1, null where nothing was called back. */
  resolution_rate: number | null
  satisfaction_rate: number | null
  /** Orders of the issue in the month before. */
  previous_accepted: number
  /** 难点分 = (called back − resolved) + dissatisfied + 2 × re-handled + 3 × escalated + late. */
  difficulty: number
  picked: HardCasePick | null
}

/** GET /api/supervision/hard-cases?month=YYYY-MM: the hardest first. */
export interface HardCases {
  month: string
  from: string
  to: string
  items: HardCase[]
}

// ---- telephony (话务, 漏话回拨) ----

/** An item of the missed-call queue: one caller whose call(s) were abandoned, until called back. */
export interface MissedCall {
  id: number
  /** The number to call back; masked (`138****8000`) for roles that do not call citizens. */
  caller: string
  caller_masked: boolean
  first_call_id: string
  /** Calls from this number missed while it waited. */
  missed: number
  first_at: string
  last_at: string
  /** `pending` or `done`. */
  status: string
  /** Once done: `reached`, `called_in`, `unreachable` or `invalid_number`. */
  result: string | null
  /** Callback attempts that did not reach the caller. */
  attempts: number
  max_attempts: number
  order_id: number | null
  closed_at: string | null
}

export interface MissedCallLog {
  no: number
  at: string
  /** Absent for the call centre's own events. */
  by_user: number | null
  by_name: string
  /** `missed`, `called_in`, `reached`, `not_reached`, `unreachable`, `invalid_number`. */
  action: string
  note: string | null
  order_id: number | null
}

export interface MissedCallDetail {
  item: MissedCall
  log: MissedCallLog[]
}

export type CallbackOutcome = 'reached' | 'not_reached' | 'invalid_number'

export interface CallCounts {
  offered: number
  answered: number
  abandoned: number
}

export interface AgentCalls {
  /** The agent's id in the call centre. */
  agent: string
  answered: number
  avg_answer_s: number | null
  avg_talk_s: number | null
}

/** The missed-call queue's items first missed in the period. */
export interface MissedStats {
  items: number
  pending: number
  reached: number
  called_in: number
  unreachable: number
  invalid_number: number
  /** 漏话回拨率 = (reached + called_in) / items. */
  recovery_rate: number | null
}

/** The centre's call figures (GET /api/telephony/stats). Rates are fractions 0–1, times seconds. */
export interface CallStats extends CallCounts {
  /** Still ringing or queued when asked. */
  waiting: number
  connect_rate: number | null
  /** Share of answered + abandoned calls answered within `service_level_s` seconds. */
  service_level: number | null
  service_level_s: number
  avg_answer_s: number | null
  max_wait_s: number | null
  avg_abandon_s: number | null
  avg_talk_s: number | null
  missed: MissedStats
  agents: AgentCalls[]
}

// ---- transfers between platforms (一键转办) ----

export type PeerKind = 'police_110' | 'utility' | 'grid' | 'hotline'

/** A platform this centre exchanges orders with (GET /api/transfer/peers). */
export interface Peer {
  id: number
  /** The other platform's code; its requests name it in `from`. */
  code: string
  name: string
  kind: string
  kind_label: string
  /** Base URL of its transfer interface (admins only). */
  url?: string | null
  active: boolean
  created_at: string
}

/** An outbound transfer as the order keeps it (`Order.transfers`). */
export interface OrderTransfer {
  /** Our id of the transfer (the key the other platform sees). */
  id: string
  peer_id: number
  peer: string
  kind: string
  reason: string
  close_on_accept: boolean
  /** `requested`, `accepted` or `failed`. */
  state: string
  /** The other platform's number for it, once accepted. */
  remote_ref: string | null
  /** Its latest status there, as reported back. */
  remote_status: string | null
  requested_at: string
}

/** A transfer with its delivery state (GET /api/orders/{id}/transfers), either way. */
export interface TransferRecord {
  id: number
  peer_id: number
  peer: string
  /** `out` (we sent it) or `in` (it came to us). */
  direction: string
  key: string
  /** out: pending, accepted, rejected, failed; in: accepted. */
  state: string
  remote_ref: string | null
  attempts: number
  last_error: string | null
  synced_seq: number
  created_at: string
}
