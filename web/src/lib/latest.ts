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

/**
 * One request at a time (for costly server work, such as the dispatch suggestion): while one
 * runs, only the newest input is kept and sent after it. A result is delivered only when no
 * newer input is waiting and nothing cancelled it, so what is shown matches the newest input.
 */
export class Serial<I, T> {
  private running = false
  private next: { input: I } | null = null
  private gen = 0

  constructor(
    private readonly fn: (input: I) => Promise<T>,
    private readonly onResult: (value: T, input: I) => void,
    private readonly onError: (e: unknown, input: I) => void = () => {},
  ) {}

  push(input: I): void {
    if (this.running) {
      this.next = { input }
      return
    }
    void this.loop(input)
  }

  /** Drops the waiting input and the result of the one under way. */
  cancel(): void {
    this.next = null
    this.gen++
  }

  get busy(): boolean {
    return this.running
  }

  private async loop(first: I): Promise<void> {
    this.running = true
    let input = first
    try {
      for (;;) {
        const gen = this.gen
        try {
          const value = await this.fn(input)
          if (gen === this.gen && !this.next) this.onResult(value, input)
        } catch (e) {
          if (gen === this.gen && !this.next) this.onError(e, input)
        }
        if (!this.next) break
        input = this.next.input
        this.next = null
      }
    } finally {
      this.running = false
    }
  }
}
