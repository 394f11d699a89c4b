// Only the newest of overlapping requests counts (search as you type): starting one aborts the
// one before it, and an answer that arrives after a newer request started is dropped.

export class Latest {
  private seq = 0
  private ctrl: AbortController | null = null

  /**
   * Runs `fn` as the newest request. Gives `{ value }`, or null when a newer request (or
   * `cancel`) superseded it meanwhile, whatever it answered or threw. A failure of the newest
   * request is thrown.
   */
  async run<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<{ value: T } | null> {
    this.ctrl?.abort()
    const ctrl = new AbortController()
    this.ctrl = ctrl
    const my = ++this.seq
    try {
      const value = await fn(ctrl.signal)
      return my === this.seq ? { value } : null
    } catch (e) {
      if (my !== this.seq) return null
      throw e
    } finally {
      if (this.ctrl === ctrl) this.ctrl = null
    }
  }

  /** Drops the request under way, if any. */
  cancel(): void {
    this.ctrl?.abort()
    this.ctrl = null
    this.seq++
  }

  /** Whether a request is under way. */
  get busy(): boolean {
    return this.ctrl !== null
  }
}
