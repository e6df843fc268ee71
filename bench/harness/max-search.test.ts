import { describe, expect, it } from 'vitest'
import { openedBehind, refinedRate, searchMaxRate, stepWarmedIfBehind, SUSTAINED_P99_US } from './max-search.ts'
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
  it('calls a step whose window opened later than a sustained p99 allows opened behind', () => {
    const at = (late: number | null | undefined): ScenarioResult => {
      const s = step('tickfan', 100_000)
      return { ...s, fast: { ...s.fast, windowStartLatencyUs: late } }
    }
    expect(openedBehind(at(SUSTAINED_P99_US))).toBe(true)
    expect(openedBehind(at(1_200_000))).toBe(true)
    expect(openedBehind(at(SUSTAINED_P99_US - 1))).toBe(false)
    expect(openedBehind(at(0))).toBe(false)
    expect(openedBehind(at(null))).toBe(false) // no message came in the window
    expect(openedBehind(at(undefined))).toBe(false) // a result from before it was measured
  })

  it('runs a step not sustained whose window opened behind once more, warmed, and returns that run; any other step runs once', async () => {
    const opened = (lateUs: number, p99: number): ScenarioResult => {
      const s = step('tickfan', 100_000, { p99 })
      return { ...s, fast: { ...s.fast, windowStartLatencyUs: lateUs } }
    }
    // A made-up broker that starts slowly: with a warm-up of 4 s its window opens 1.2 s behind, with 8 s on time.
    const ran: number[] = []
    const heard: Array<[number, number]> = []
    const run = async (warmupSeconds: number): Promise<ScenarioResult> => {
      ran.push(warmupSeconds)
      return warmupSeconds < 8 ? opened(1_200_000, 1_250_000) : opened(3_000, 40_000)
    }
    const twice = (seconds: number): number => seconds * 2
    const onAgain = (first: ScenarioResult, again: number): void => { heard.push([first.fast.latencyUs.p99, again]) }
    const r = await stepWarmedIfBehind<number>(4, run, { subscribers: 2, warmer: twice, onAgain })
    expect(ran).toEqual([4, 8])
    expect(heard).toEqual([[1_250_000, 8]])
    expect(r?.fast.latencyUs.p99).toBe(40_000)
    const never = { subscribers: 2, warmer: twice, onAgain: () => { throw new Error('run again') } }
    ran.length = 0
    expect((await stepWarmedIfBehind<number>(8, run, never))?.fast.latencyUs.p99).toBe(40_000)
    expect(ran).toEqual([8])
    // Sustained though its window opened behind (the backlog gone within the p99): judged as it is.
    const sustainedLate = async (): Promise<ScenarioResult> => opened(105_000, 62_000)
    expect((await stepWarmedIfBehind<number>(4, sustainedLate, never))?.fast.latencyUs.p99).toBe(62_000)
    // Not sustained, its window on time (a tail inside the window): judged as it is.
    const tail = async (): Promise<ScenarioResult> => opened(3_000, 340_000)
    expect((await stepWarmedIfBehind<number>(4, tail, never))?.fast.latencyUs.p99).toBe(340_000)
    // An invalid run (the load gave out) is not run again, however late its window opened.
    const invalid = async (): Promise<ScenarioResult> => ({ ...opened(1_200_000, 1_250_000), valid: false })
    expect((await stepWarmedIfBehind<number>(4, invalid, never))?.valid).toBe(false)
    // A step that could not be measured is not run again.
    expect(await stepWarmedIfBehind<number>(4, async () => null, never)).toBeNull()
  })

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
