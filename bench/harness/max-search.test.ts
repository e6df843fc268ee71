import { describe, expect, it } from 'vitest'
import { refinedRate, searchMaxRate } from './max-search.ts'
import type { ScenarioResult } from './runner.ts'
import { step } from './scenario-fixture.ts'

const STEPS = [20_000, 40_000, 80_000, 120_000, 160_000, 200_000]
const OPTIONS = { subscribers: 2, refinements: 2, grain: 1000 }

/**
 * A made-up broker that sustains every rate up to `limit` (p99 1 ms) and falls behind above it
 * (p99 500 ms); above `loadLimit` the load generator gives out first (an invalid run).
 */
interface MadeUpBroker { run: (rate: number) => Promise<ScenarioResult>, tried: number[] }

function broker (limit: number, loadLimit = Infinity): MadeUpBroker {
  const tried: number[] = []
  return {
    tried,
    run: async (rate) => {
      tried.push(rate)
      return step('tickfan', rate, { valid: rate <= loadLimit, p99: rate <= limit ? 1000 : 500_000 })
    }
  }
}

describe('the maximum-rate search', () => {
  it('halves the gap between a step sustained and the next', () => {
    expect(refinedRate(120_000, 160_000, 1000)).toBe(140_000)
    expect(refinedRate(120_000, 140_000, 1000)).toBe(130_000)
    expect(refinedRate(120_000, 121_000, 1000)).toBeNull()
    expect(refinedRate(120_000, 122_000, 1000)).toBe(121_000)
  })

  it('finds a known limit to a quarter of the last gap: 137,000 msgs/s is found as 130,000, not 120,000', async () => {
    const b = broker(137_000)
    const found = await searchMaxRate(STEPS, b.run, OPTIONS)
    expect(found.endedAt).toBe('broker')
    expect(found.best?.offeredRate).toBe(130_000)
    expect(b.tried).toEqual([20_000, 40_000, 80_000, 120_000, 160_000, 140_000, 130_000])
    const coarse = await searchMaxRate(STEPS, broker(137_000).run, { ...OPTIONS, refinements: 0 })
    expect(coarse.best?.offeredRate).toBe(120_000)
    expect((await searchMaxRate(STEPS, broker(155_000).run, OPTIONS)).best?.offeredRate).toBe(150_000)
  })

  it('does not refine where the load gave out first, and says the search ended at the generator', async () => {
    const b = broker(300_000, 130_000)
    const found = await searchMaxRate(STEPS, b.run, OPTIONS)
    expect(found).toMatchObject({ endedAt: 'generator', best: { offeredRate: 120_000 } })
    expect(b.tried.at(-1)).toBe(160_000)
    const all = await searchMaxRate(STEPS, broker(1e9).run, OPTIONS)
    expect(all).toMatchObject({ endedAt: 'generator', best: { offeredRate: 200_000 } })
  })

  it('stops refining at a refinement the load could not drive, keeping what it had', async () => {
    const b = broker(137_000)
    const run = async (rate: number): Promise<ScenarioResult> => ({ ...await b.run(rate), valid: rate !== 140_000 })
    const found = await searchMaxRate(STEPS, run, OPTIONS)
    expect(b.tried.slice(-2)).toEqual([160_000, 140_000])
    // 160,000 was the broker's limit; 140,000 measured nothing, so the answer stays at 120,000.
    expect(found).toMatchObject({ endedAt: 'broker', best: { offeredRate: 120_000 } })
  })
})
