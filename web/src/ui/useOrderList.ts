// A page of orders for the given filters, with cursor paging and a loading flag.
import { reactive, ref, shallowRef, watch, type Ref } from 'vue'
import { http } from '../api/http'
import type { OrderList, OrderSummary } from '../api/types'
import { CursorPager } from '../lib/pager'
import { filtersToParams, type OrderFilters } from '../lib/query'
import { showError } from './notify'

export function useOrderList(filters: Ref<OrderFilters>, limit = 20) {
  const items = shallowRef<OrderSummary[]>([])
  const loading = ref(false)
  const pager = reactive(new CursorPager(limit)) as CursorPager
  let seq = 0

  async function load() {
    const my = ++seq
    loading.value = true
    try {
      const res = await http.get<OrderList>('/api/orders', filtersToParams(filters.value, { limit, cursor: pager.cursor }))
      if (my !== seq) return
      items.value = res.items
      pager.loaded(res)
    } catch (e) {
      if (my === seq) showError(e)
    } finally {
      if (my === seq) loading.value = false
    }
  }

  function reload() {
    pager.reset()
    return load()
  }
  function next() {
    if (pager.next()) void load()
  }
  function prev() {
    if (pager.prev()) void load()
  }

  watch(filters, () => void reload(), { deep: true })

  return { items, loading, pager, load, reload, next, prev }
}
