import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { scheduleFor } from './schedule.ts'

/** How many messages the schedule sends before `ns`, counted as the publisher counts them. */
function countBefore (at: (i: number) => number, ns: number): number {
  let n = 0
  while (at(n) < ns) n++
  return n
}

describe('the publisher\'s schedule', () => {
  it('sends exactly rate x seconds messages in whole seconds at a steady rate', () => {
    const steady = (ratePerSec: number): (i: number) => number =>
      scheduleFor({ ratePerSec, burstEveryMs: 0, burstMs: 0, burstFactor: 1 })
    // The rates of max-throughput's searches where the count was one too many before.
    expect(countBefore(steady(110_000), 7e9)).toBe(770_000)
    expect(countBefore(steady(220_000), 7e9)).toBe(1_540_000)
    fc.assert(fc.property(fc.integer({ min: 1, max: 400_000 }), fc.integer({ min: 1, max: 3 }), (rate, seconds) => {
      const at = steady(rate)
      // The last message before the boundary, and the first at it.
      return at(rate * seconds - 1) < seconds * 1e9 && at(rate * seconds) >= seconds * 1e9
    }), { numRuns: 2000 })
  })

  it('puts a burst\'s messages at rate x factor, and keeps the cycle', () => {
    const at = scheduleFor({ ratePerSec: 1000, burstEveryMs: 1000, burstMs: 100, burstFactor: 4 })
    // 400 messages in the 100 ms burst (every 0.25 ms), then 900 in the calm 900 ms (every 1 ms).
    expect(at(1)).toBeCloseTo(250_000, 3)
    expect(at(400)).toBeCloseTo(100e6, 3)
    expect(at(401)).toBeCloseTo(101e6, 3)
    expect(at(1300)).toBeCloseTo(1e9, 3)
    expect(countBefore(at, 1e9)).toBe(1300)
  })

  it('ramps the rate up from 0 over the ramp, then holds it, half the ramp behind', () => {
    const rate = 10_000
    const at = scheduleFor({ ratePerSec: rate, burstEveryMs: 0, burstMs: 0, burstFactor: 1, rampMs: 2000 })
    // Over a ramp of 2 s the rate rises to 10,000/s: 10,000 messages in it (half of 2 s at the full rate).
    expect(countBefore(at, 2e9)).toBe(10_000)
    // In its first second a quarter of them, in its second three quarters.
    expect(countBefore(at, 1e9)).toBe(2_500)
    // Then the full rate: 10,000 a second.
    expect(countBefore(at, 3e9) - countBefore(at, 2e9)).toBe(10_000)
    expect(at(0)).toBe(0)
    const rates = fc.integer({ min: 1, max: 200_000 })
    const ramps = fc.integer({ min: 1, max: 4000 })
    fc.assert(fc.property(rates, ramps, fc.nat(1_000_000), (ratePerSec, rampMs, i) => {
      const ramped = scheduleFor({ ratePerSec, burstEveryMs: 0, burstMs: 0, burstFactor: 1, rampMs })
      const plain = scheduleFor({ ratePerSec, burstEveryMs: 0, burstMs: 0, burstFactor: 1 })
      // In order, never earlier than unramped, and at most half the ramp later.
      const inOrder = ramped(i + 1) > ramped(i)
      return inOrder && ramped(i) >= plain(i) - 1e-6 && ramped(i) <= plain(i) + rampMs * 1e6 / 2 + 1e-6
    }), { numRuns: 2000 })
  })
})
