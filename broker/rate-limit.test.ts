import { describe, expect, it } from 'vitest'
import { InboundRateLimit } from './rate-limit.ts'

describe('InboundRateLimit', () => {
  it('admits perSecond messages a window, and tells the client once a second about the rest', () => {
    const limit = new InboundRateLimit(3)
    const at = (ms: number, n: number): string[] => Array.from({ length: n }, () => limit.admit(ms))
    expect(at(1000, 5)).toEqual(['admit', 'admit', 'admit', 'drop-and-tell', 'drop'])
    expect(at(1500, 1)).toEqual(['drop'])
    expect(at(2000, 4)).toEqual(['admit', 'admit', 'admit', 'drop-and-tell'])
    expect(limit.dropped).toBe(4)
  })

  it('admits everything when the limit is 0', () => {
    const limit = new InboundRateLimit(0)
    for (let i = 0; i < 10_000; i++) expect(limit.admit(0)).toBe('admit')
    expect(limit.dropped).toBe(0)
  })
})
