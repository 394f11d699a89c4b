import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import CountDown from './CountDown.vue'

describe('CountDown', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-11-25T00:00:00Z'))
  })
  afterEach(() => vi.useRealTimers())

  it('counts down every second in the last hour and turns red when late', async () => {
    const w = mount(CountDown, { props: { due: '2026-11-25T00:00:03Z' } })
    expect(w.text()).toBe('剩余 3秒')
    expect(w.classes()).toContain('cd-critical')
    await vi.advanceTimersByTimeAsync(5000)
    expect(w.text()).toBe('已超时 2秒')
    expect(w.classes()).toContain('cd-overdue')
    w.unmount()
  })

  it('shows the due time instead once the stage is done', () => {
    const w = mount(CountDown, { props: { due: '2026-11-24T09:30:00Z', done: true } })
    expect(w.text()).toBe('2026-11-24 17:30')
  })

  it('shows a dash without a deadline', () => {
    expect(mount(CountDown, { props: { due: null } }).text()).toBe('—')
  })
})
