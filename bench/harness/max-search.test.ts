import { describe, expect, it } from 'vitest'
import { brokerAtItsLimit, CAP_SPENT, notSustainedBecause, openedBehind, refinedRate, searchMaxRate, stepTriedAgain, SUSTAINED_P99_US } from './max-search.ts'
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

  it('runs a valid step not sustained once more, warmed, and returns that run; a sustained or invalid step runs once', async () => {
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
    const r = await stepTriedAgain<number>(4, run, { subscribers: 2, warmer: twice, onAgain })
    expect(ran).toEqual([4, 8])
    expect(heard).toEqual([[1_250_000, 8]])
    expect(r?.fast.latencyUs.p99).toBe(40_000)
    const never = { subscribers: 2, warmer: twice, onAgain: () => { throw new Error('run again') } }
    ran.length = 0
    expect((await stepTriedAgain<number>(8, run, never))?.fast.latencyUs.p99).toBe(40_000)
    expect(ran).toEqual([8])
    // Sustained though its window opened behind (the backlog gone within the p99): judged as it is.
    const sustainedLate = async (): Promise<ScenarioResult> => opened(105_000, 62_000)
    expect((await stepTriedAgain<number>(4, sustainedLate, never))?.fast.latencyUs.p99).toBe(62_000)
    // Not sustained with its window on time (a stall inside the window): tried again too.
    const stalls = [340_000, 30_000]
    const stallOnce = async (): Promise<ScenarioResult> => opened(3_000, stalls.shift() ?? 0)
    const quiet = { subscribers: 2, warmer: twice, onAgain: () => {} }
    expect((await stepTriedAgain<number>(4, stallOnce, quiet))?.fast.latencyUs.p99).toBe(30_000)
    // Past its limit a broker fails the second run too, and that run is what the search sees.
    const past = async (): Promise<ScenarioResult> => opened(3_000, 500_000)
    const tries: number[] = []
    const pastRun = async (seconds: number): Promise<ScenarioResult> => { tries.push(seconds); return await past() }
    expect((await stepTriedAgain<number>(4, pastRun, quiet))?.fast.latencyUs.p99).toBe(500_000)
    expect(tries).toEqual([4, 8])
    // An invalid run (the load gave out) is not run again, however late its window opened...
    const invalid = async (): Promise<ScenarioResult> => ({ ...opened(1_200_000, 1_250_000), valid: false })
    expect((await stepTriedAgain<number>(4, invalid, never))?.valid).toBe(false)
    // ... unless the broker used all its cap in it: that is the broker's limit, and tried again.
    const atCap = async (seconds: number): Promise<ScenarioResult> => {
      tries.push(seconds)
      const s = { ...opened(3_000, 250_000), valid: false }
      return { ...s, broker: { ...s.broker, capUsed: 0.99 } }
    }
    tries.length = 0
    expect((await stepTriedAgain<number>(4, atCap, quiet))?.valid).toBe(false)
    expect(tries).toEqual([4, 8])
    // A step that could not be measured is not run again.
    expect(await stepTriedAgain<number>(4, async () => null, never)).toBeNull()
  })

  it('takes a run whose load gave out as the broker\'s limit only where the broker used all its cap', () => {
    const run = (valid: boolean, capUsed: number | null | undefined): ScenarioResult => {
      const s = step('nats-server', 160_000, { valid })
      return { ...s, broker: { ...s.broker, capUsed } }
    }
    expect(brokerAtItsLimit(run(true, null))).toBe(true)
    expect(brokerAtItsLimit(run(true, 0.5))).toBe(true)
    expect(brokerAtItsLimit(run(false, CAP_SPENT))).toBe(true)
    expect(brokerAtItsLimit(run(false, 1.01))).toBe(true)
    expect(brokerAtItsLimit(run(false, 0.93))).toBe(false)
    expect(brokerAtItsLimit(run(false, null))).toBe(false) // uncapped: the load gave out, nothing more is known
    expect(brokerAtItsLimit(run(false, undefined))).toBe(false) // a result from before it was measured
  })

  it('says why a step was not sustained: what fell short, its p99, and how its window opened', () => {
    const at = (o: { delivered: number, p99: number, late: number | null }): ScenarioResult => {
      const s = step('tickfan', 100_000, { p99: o.p99 })
      return { ...s, deliveredRate: o.delivered, fast: { ...s.fast, windowStartLatencyUs: o.late } }
    }
    expect(notSustainedBecause(at({ delivered: 200_000, p99: 109_250, late: 3_000 }), 2)).toBe('p99 109.25 ms, its window opened on time')
    expect(notSustainedBecause(at({ delivered: 150_000, p99: 1_250_000, late: 1_204_400 }), 2))
      .toBe('75% delivered, p99 1250.00 ms, its window opened 1204 ms behind')
    expect(notSustainedBecause(at({ delivered: 0, p99: 0, late: null }), 2)).toBe('0% delivered, p99 0.00 ms, nothing came in its window')
    const gaveOut = at({ delivered: 200_000, p99: 165_890, late: 87_670 })
    const invalid = { ...gaveOut, valid: false, invalidReason: 'the publisher fell behind on its own', broker: { ...gaveOut.broker, capUsed: 0.993 } }
    expect(notSustainedBecause(invalid, 2)).toBe('the publisher fell behind on its own, with 99% of its cap used, p99 165.89 ms, its window opened on time')
  })

  it('finds a limit that a chance stall would have hidden: a step failed once by chance is sustained on its second run', async () => {
    // A made-up broker with a limit of 137,000 msgs/s whose first run at 80,000 strikes a stall.
    const tried: number[] = []
    let stalled = false
    const run = async (rate: number): Promise<ScenarioResult> => {
      tried.push(rate)
      const stall = rate === 80_000 && !stalled
      if (stall) stalled = true
      return step('tickfan', rate, { p99: stall ? 300_000 : rate <= 137_000 ? 1000 : 500_000 })
    }
    const retried = async (rate: number): Promise<ScenarioResult | null> =>
      await stepTriedAgain(rate, run, { subscribers: 2, warmer: (r) => r, onAgain: () => {} })
    const found = await searchMaxRate(STEPS, retried, OPTIONS)
    expect(found.best?.offeredRate).toBe(130_000)
    // 80,000 twice (the stall, then sustained); each rate past the limit twice.
    expect(tried).toEqual([20_000, 40_000, 80_000, 80_000, 120_000, 160_000, 160_000, 140_000, 140_000, 130_000])
    // Without the second run, the same broker is found at 70,000: the search never gets past the stall.
    stalled = false
    expect((await searchMaxRate(STEPS, run, OPTIONS)).best?.offeredRate).toBe(70_000)
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

  it('under a cap, takes a step whose load gave out with the broker at its cap as the broker\'s limit, and refines', async () => {
    // A made-up capped broker with a limit of 137,000 msgs/s: at and past it, it uses all its cap;
    // from 140,000 the load gives out too (its publisher falls behind), before the broker's tails show.
    const tried: number[] = []
    const capped = (loadLimit: number) => async (rate: number): Promise<ScenarioResult> => {
      tried.push(rate)
      const s = step('nats-server', rate, { valid: rate < loadLimit, p99: rate <= 137_000 ? 1000 : 500_000 })
      return { ...s, broker: { ...s.broker, capUsed: rate >= 137_000 ? 1 : 0.9 * rate / 137_000 } }
    }
    const found = await searchMaxRate(STEPS, capped(140_000), OPTIONS)
    expect(found).toMatchObject({ endedAt: 'broker', best: { offeredRate: 130_000 } })
    expect(tried).toEqual([20_000, 40_000, 80_000, 120_000, 160_000, 140_000, 130_000])
    // The same load giving out at 100,000, where the broker is below its cap: the generator's end, as before.
    const early = await searchMaxRate(STEPS, capped(100_000), OPTIONS)
    expect(early).toMatchObject({ endedAt: 'generator', best: { offeredRate: 80_000 } })
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
