// Flat code/parent lists (categories, regions, units) → trees for cascaders and tree selects.

export interface TreeNode<T> {
  value: string | number
  label: string
  item: T
  children?: TreeNode<T>[]
  disabled?: boolean
}

/**
 * Builds a forest from a flat list. Items whose parent is missing become roots, so nothing is
 * lost. Order within a level follows the input.
 */
export function buildTree<T>(
  items: readonly T[],
  key: (t: T) => string | number,
  parent: (t: T) => string | number | null | undefined,
  label: (t: T) => string,
  disabled?: (t: T) => boolean,
): TreeNode<T>[] {
  const nodes = new Map<string | number, TreeNode<T>>()
  for (const it of items) {
    const n: TreeNode<T> = { value: key(it), label: label(it), item: it }
    if (disabled?.(it)) n.disabled = true
    nodes.set(key(it), n)
  }
  const roots: TreeNode<T>[] = []
  for (const it of items) {
    const n = nodes.get(key(it))!
    const p = parent(it)
    const pn = p !== null && p !== undefined ? nodes.get(p) : undefined
    if (pn && pn !== n) (pn.children ??= []).push(n)
    else roots.push(n)
  }
  return roots
}

/** The labels from the root down to `code`: `['城乡建设','物业管理','物业服务质量']`. */
export function pathOf<T>(
  byKey: ReadonlyMap<string | number, T>,
  code: string | number | null | undefined,
  parent: (t: T) => string | number | null | undefined,
  label: (t: T) => string,
): string[] {
  const out: string[] = []
  const seen = new Set<string | number>()
  let cur = code ?? null
  while (cur !== null && cur !== undefined && !seen.has(cur)) {
    seen.add(cur)
    const it = byKey.get(cur)
    if (!it) break
    out.unshift(label(it))
    cur = parent(it) ?? null
  }
  return out
}

/** The keys from the root down to `code` (a cascader's model value). */
export function keyPathOf<T>(
  byKey: ReadonlyMap<string | number, T>,
  code: string | number | null | undefined,
  parent: (t: T) => string | number | null | undefined,
): (string | number)[] {
  const out: (string | number)[] = []
  const seen = new Set<string | number>()
  let cur = code ?? null
  while (cur !== null && cur !== undefined && !seen.has(cur)) {
    seen.add(cur)
    if (!byKey.has(cur)) break
    out.unshift(cur)
    cur = parent(byKey.get(cur)!) ?? null
  }
  return out
}

/** Case-insensitive match of a search text against a node's path, for filtering pickers. */
export function matchesPath(path: readonly string[], text: string): boolean {
  const q = text.trim().toLowerCase()
  if (!q) return true
  return path.join(' / ').toLowerCase().includes(q)
}

/**
 * The forest of `items` whose path matches `text`, with the ancestors that lead to them (an
 * ancestor is kept only when it is itself in `items`). An empty `text` keeps everything.
 */
export function searchTree<T>(
  items: readonly T[],
  byKey: ReadonlyMap<string | number, T>,
  text: string,
  key: (t: T) => string | number,
  parent: (t: T) => string | number | null | undefined,
  label: (t: T) => string,
): TreeNode<T>[] {
  const q = text.trim()
  let keep = items
  if (q) {
    const hit = new Set<string | number>()
    for (const it of items) {
      if (!matchesPath(pathOf(byKey, key(it), parent, label), q)) continue
      let cur: T | undefined = it
      while (cur && !hit.has(key(cur))) {
        hit.add(key(cur))
        const p = parent(cur)
        cur = p !== null && p !== undefined ? byKey.get(p) : undefined
      }
    }
    keep = items.filter((it) => hit.has(key(it)))
  }
  return buildTree(keep, key, parent, label)
}

/** The ids of `root` and every item below it, whatever the order of `items`. */
export function subtreeIds<T extends { id: number; parent_id: number | null }>(items: readonly T[], root: number): Set<number> {
  const children = new Map<number, number[]>()
  for (const it of items) {
    if (it.parent_id === null) continue
    const list = children.get(it.parent_id)
    if (list) list.push(it.id)
    else children.set(it.parent_id, [it.id])
  }
  const out = new Set<number>([root])
  const todo = [root]
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      if (!out.has(c)) {
        out.add(c)
        todo.push(c)
      }
    }
  }
  return out
}
