import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { median, ratioOfMedians } from './stats.ts'

/** A seeded generator, so the bootstrap is reproducible in a test. */
function seeded (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })
})

describe('ratioOfMedians', () => {
  it('is the ratio of the medians, inside its own interval', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 1, max: 1000, noNaN: true }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.double({ min: 1, max: 1000, noNaN: true }), { minLength: 1, maxLength: 12 }),
      fc.integer(),
      (a, b, seed) => {
        const r = ratioOfMedians(a, b, { resamples: 200, random: seeded(seed) })
        expect(r.ratio).toBeCloseTo(median(a) / median(b), 10)
        expect(r.low).toBeLessThanOrEqual(r.high)
        // every resampled median lies within the sample's range, so the interval does too
        expect(r.low).toBeGreaterThanOrEqual(Math.min(...a) / Math.max(...b) - 1e-9)
        expect(r.high).toBeLessThanOrEqual(Math.max(...a) / Math.min(...b) + 1e-9)
      }
    ))
  })

  it('is narrow for identical runs and wide for scattered ones', () => {
    const steady = ratioOfMedians([10, 10, 10, 10, 10], [5, 5, 5, 5, 5], { random: seeded(1) })
    expect(steady).toMatchObject({ ratio: 2, low: 2, high: 2 })
    const noisy = ratioOfMedians([6, 8, 8, 11, 10], [5, 7, 6, 10, 6], { random: seeded(2) })
    expect(noisy.ratio).toBeCloseTo(8 / 6)
    expect(noisy.low).toBeLessThan(1.1)
    expect(noisy.high).toBeGreaterThan(1.5)
  })
})
