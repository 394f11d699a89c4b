// Reference data for pickers and labels, loaded once per session and shared.
import { defineStore } from 'pinia'
import { http } from '../api/http'
import type { Category, Meta, Region, Unit } from '../api/types'
import { buildTree, pathOf, type TreeNode } from '../lib/tree'

type Loader<T> = Promise<T> | null

export const useDicts = defineStore('dicts', {
  state: () => ({
    meta: null as Meta | null,
    categories: [] as Category[],
    regions: [] as Region[],
    units: [] as Unit[],
    _loading: {} as Record<string, Loader<unknown>>,
  }),
  getters: {
    categoryByCode: (s) => new Map(s.categories.map((c) => [c.code, c] as const)),
    regionByCode: (s) => new Map(s.regions.map((r) => [r.code, r] as const)),
    unitById: (s) => new Map(s.units.map((u) => [u.id, u] as const)),
    categoryTree(): TreeNode<Category>[] {
      return buildTree(
        this.categories.filter((c) => c.active),
        (c) => c.code,
        (c) => c.parent_code,
        (c) => c.name,
      )
    },
    regionTree(): TreeNode<Region>[] {
      return buildTree(
        this.regions,
        (r) => r.code,
        (r) => r.parent_code,
        (r) => r.name,
      )
    },
    unitTree(): TreeNode<Unit>[] {
      return buildTree(
        this.units.filter((u) => u.active),
        (u) => u.id,
        (u) => u.parent_id,
        (u) => u.name,
      )
    },
  },
  actions: {
    async once<T>(key: string, load: () => Promise<T>): Promise<T> {
      const cur = this._loading[key] as Loader<T>
      if (cur) return cur
      const p = load().catch((e) => {
        this._loading[key] = null
        throw e
      })
      this._loading[key] = p
      return p
    },
    loadMeta() {
      return this.once('meta', async () => {
        this.meta = await http.get<Meta>('/api/meta')
        return this.meta
      })
    },
    loadCategories(force = false) {
      if (force) this._loading.categories = null
      return this.once('categories', async () => {
        this.categories = (await http.get<{ items: Category[] }>('/api/categories')).items
        return this.categories
      })
    },
    loadRegions() {
      return this.once('regions', async () => {
        this.regions = (await http.get<{ items: Region[] }>('/api/regions')).items
        return this.regions
      })
    },
    loadUnits(force = false) {
      if (force) this._loading.units = null
      return this.once('units', async () => {
        this.units = (await http.get<{ items: Unit[] }>('/api/units')).items
        return this.units
      })
    },
    categoryLabel(code: string | null | undefined): string {
      if (!code) return ''
      const p = pathOf(this.categoryByCode, code, (c) => c.parent_code, (c) => c.name)
      return p.length ? p.join(' › ') : code
    },
    regionLabel(code: string | null | undefined): string {
      if (!code) return ''
      const p = pathOf(this.regionByCode, code, (r) => r.parent_code, (r) => r.name)
      return p.length ? p.join(' ') : code
    },
    unitName(id: number | null | undefined): string {
      if (id === null || id === undefined) return ''
      return this.unitById.get(id)?.name ?? `单位 #${id}`
    },
    label(kind: keyof Meta, code: string | null | undefined): string {
      if (!code) return ''
      return this.meta?.[kind].find((c) => c.code === code)?.label ?? code
    },
  },
})
