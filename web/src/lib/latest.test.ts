import { describe, expect, it } from 'vitest'
import { Serial } from './latest'

/** A request whose answer the test releases by hand. */
function deferred() {
  const calls: { input: string; resolve: (v: string) => void; reject: (e: unknown) => void }[] = []
  const fn = (input: string) => new Promise<string>((resolve, reject) => calls.push({ input, resolve, reject }))
  return { calls, fn }
}
const tick = () => new Promise((r) => setTimeout(r, 0))

describe('Serial', () => {
  it('runs one request at a time and then only the newest waiting input', async () => {
    const { calls, fn } = deferred()
    const got: string[] = []
    const s = new Serial(fn, (v) => got.push(v))
    s.push('a')
    s.push('b')
    s.push('c')
    expect(calls.map((c) => c.input)).toEqual(['a'])
    expect(s.busy).toBe(true)
    calls[0].resolve('A')
    await tick()
    // A's answer is stale (c waits): not delivered; c is sent, b never.
    expect(got).toEqual([])
    expect(calls.map((c) => c.input)).toEqual(['a', 'c'])
    calls[1].resolve('C')
    await tick()
    expect(got).toEqual(['C'])
    expect(s.busy).toBe(false)
  })
  it('delivers failures of the newest input only, and goes on after them', async () => {
    const { calls, fn } = deferred()
    const errs: unknown[] = []
    const s = new Serial(fn, () => {}, (e) => errs.push(e))
    s.push('a')
    s.push('b')
    calls[0].reject(new Error('x'))
    await tick()
    expect(errs).toEqual([])
    calls[1].reject(new Error('y'))
    await tick()
    expect(errs.map((e) => (e as Error).message)).toEqual(['y'])
  })
  it('drops what was under way and waiting when cancelled, and runs later inputs', async () => {
    const { calls, fn } = deferred()
    const got: string[] = []
    const s = new Serial(fn, (v) => got.push(v))
    s.push('a')
    s.push('b')
    s.cancel()
    calls[0].resolve('A')
    await tick()
    expect(got).toEqual([])
    expect(calls).toHaveLength(1)
    s.push('c')
    calls[1].resolve('C')
    await tick()
    expect(got).toEqual(['C'])
  })
  it('runs an input pushed after a cancel while the cancelled one is still under way', async () => {
    const { calls, fn } = deferred()
    const got: string[] = []
    const s = new Serial(fn, (v) => got.push(v))
    s.push('a')
    s.cancel()
    s.push('d')
    calls[0].resolve('A')
    await tick()
    expect(calls.map((c) => c.input)).toEqual(['a', 'd'])
    calls[1].resolve('D')
    await tick()
    expect(got).toEqual(['D'])
  })
})
