import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InboundRateLimit } from './rate-limit.ts'

describe('InboundRateLimit', () => {
  it('says once per window when it goes over the limit, and when the window ends', () => {
    const limit = new InboundRateLimit(3)
    const at = (ms: number, n: number): boolean[] => Array.from({ length: n }, () => limit.admit(() => ms))
    expect(at(1000, 5)).toEqual([true, true, true, false, true])
    expect(limit.windowEndsAtMs).toBe(2000)
    expect(at(1500, 1)).toEqual([true])
    expect(at(2000, 4)).toEqual([true, true, true, false])
    expect(limit.windowEndsAtMs).toBe(3000)
    expect(limit.throttled).toBe(2)
  })

  it('counts an operation of weight w as w of them, and says so once, where the window first goes over', () => {
    const limit = new InboundRateLimit(1000)
    expect(limit.admit(() => 0, 600)).toBe(true)
    expect(limit.admit(() => 0, 400)).toBe(true) // exactly at the limit
    expect(limit.admit(() => 0, 1)).toBe(false)
    expect(limit.admit(() => 0, 5000)).toBe(true) // already over: said once
    expect(limit.admit(() => 1000, 2000)).toBe(false) // a new window, over at once
    expect(limit.throttled).toBe(2)
    // Whatever the weights in one window, it says false once, at the first operation that takes it past the limit.
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 50 }), (weights) => {
      const l = new InboundRateLimit(1000)
      let sum = 0
      for (const w of weights) {
        const crossed = sum <= 1000 && sum + w > 1000
        sum += w
        expect(l.admit(() => 0, w)).toBe(!crossed)
      }
      expect(l.throttled).toBe(sum > 1000 ? 1 : 0)
    }))
  })

  it('admits everything when the limit is 0', () => {
    const limit = new InboundRateLimit(0)
    for (let i = 0; i < 10_000; i++) expect(limit.admit(() => { throw new Error('no clock without a limit') })).toBe(true)
    expect(limit.throttled).toBe(0)
  })
})
