import { describe, expect, it } from 'vitest'
import { Random } from '../../feeds/random.ts'
import { judgeRegression } from './regression.ts'

/** Repeatable randomness for the bootstrap. */
const seeded = (seed: number): (() => number) => { const r = new Random(seed); return () => r.next() }

/** n samples around `mean` with a relative spread of `cv` (normal, Box-Muller). */
function samples (random: () => number, n: number, mean: number, cv: number): number[] {
  return Array.from(
    { length: n },
    () => mean * (1 + cv * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))
  )
}

describe('judgeRegression', () => {
  it('finds a planted slowdown larger than the noise, and no regression where there is none', () => {
    // The gate's own noise here: about 3% per sample (bench:ci, lockstep CPU per delivery).
    const random = seeded(7)
    let caught20 = 0
    let caught10 = 0
    let flaps = 0
    for (let trial = 0; trial < 200; trial++) {
      const reference = samples(random, 10, 400, 0.03)
      if (judgeRegression(samples(random, 10, 480, 0.03), reference, { tolerance: 0.05, random }).verdict === 'regression') caught20++
      if (judgeRegression(samples(random, 10, 440, 0.03), reference, { tolerance: 0.05, random }).verdict === 'regression') caught10++
      if (judgeRegression(samples(random, 10, 400, 0.03), reference, { tolerance: 0.05, random }).verdict === 'regression') flaps++
    }
    expect(caught20).toBeGreaterThanOrEqual(196)
    expect(caught10).toBeGreaterThanOrEqual(150)
    expect(flaps).toBeLessThanOrEqual(2)
  })

  it('calls a build faster only when the whole interval is below 1', () => {
    const random = seeded(3)
    expect(judgeRegression(samples(random, 10, 300, 0.02), samples(random, 10, 400, 0.02), { tolerance: 0.05, random }).verdict).toBe('faster')
    expect(judgeRegression([1, 2, 1, 2], [1, 2, 1, 2], { tolerance: 0.05, random }).verdict).toBe('unchanged')
  })

  it('refuses fewer than two samples a side', () => {
    expect(() => judgeRegression([1], [1, 2], { tolerance: 0.05 })).toThrow(/at least two samples/)
  })
})
