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

  it('admits everything when the limit is 0', () => {
    const limit = new InboundRateLimit(0)
    for (let i = 0; i < 10_000; i++) expect(limit.admit(() => { throw new Error('no clock without a limit') })).toBe(true)
    expect(limit.throttled).toBe(0)
  })
})
