// Cursor pagination (`next_cursor` → `cursor=`) with a way back: the cursors of the pages seen
// so far are kept, so "previous" re-reads a page from its own cursor.

export class CursorPager {
  /** cursors[i] is the cursor that reads page i (page 0 has none). */
  private cursors: (string | null)[] = [null]
  page = 0
  total = 0
  capped = false
  hasNext = false

  constructor(readonly limit: number) {}

  reset(): void {
    this.cursors = [null]
    this.page = 0
    this.total = 0
    this.capped = false
    this.hasNext = false
  }

  /** The cursor to read the current page with. */
  get cursor(): string | null {
    return this.cursors[this.page] ?? null
  }

  get pageCount(): number {
    return Math.max(1, Math.ceil(this.total / this.limit))
  }

  get hasPrev(): boolean {
    return this.page > 0
  }

  /** Records what the current page answered. The total is kept from the first page. */
  loaded(res: { total: number; total_capped: boolean; next_cursor: string | null }): void {
    if (this.page === 0) {
      this.total = res.total
      this.capped = res.total_capped
    }
    this.hasNext = res.next_cursor !== null
    this.cursors[this.page + 1] = res.next_cursor
    this.cursors.length = this.page + 2
  }

  next(): boolean {
    if (!this.hasNext) return false
    this.page += 1
    return true
  }

  prev(): boolean {
    if (this.page === 0) return false
    this.page -= 1
    return true
  }

  /** `第 2 / 5 页` style position. */
  get position(): string {
    return `第 ${this.page + 1} / ${this.capped ? `${this.pageCount}+` : this.pageCount} 页`
  }
}
