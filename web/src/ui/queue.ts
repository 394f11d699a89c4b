import type { OrderSummary } from '../api/types'
import type { ActionKey } from '../lib/actions'
import type { OrderFilters } from '../lib/query'

export interface QueueTab {
  key: string
  label: string
  filters: OrderFilters
  /** Commands offered on each row (shown only where the order allows them). */
  actions: ActionKey[]
  /** Extra per-row detail read from the full order. */
  detail?: 'return_reason' | 'reply' | 'extension'
  /** Shows the callback marks read from the full order: attempts not reached (未接通), 转督办, how it closed. */
  marks?: boolean
  /** Loads the rows itself instead of the list API (for views the API cannot filter yet). */
  loader?: () => Promise<{ items: OrderSummary[]; note?: string }>
}
