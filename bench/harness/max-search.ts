/**
 * The search for a broker's maximum sustained rate (max-throughput, scaling): rate steps in
 * turn until one is not sustained, then, where that step was a valid run (the broker's limit,
 * not the load's), halvings of the gap between the last step sustained and the first not. At
 * the top of max-throughput the steps are 40,000 msgs/s apart; two halvings make it 10,000, so
 * a few percent of broker CPU can move the result. A step is judged not sustained only when a
 * second run of it, warmed longer, fails too (stepTriedAgain). Under a CPU cap, a run whose load
 * gave out while the broker used all its cap is the broker's limit too (brokerAtItsLimit). Pure:
 * the runs are the caller's.
 */
import { capUsedText } from './cpu-cap.ts'
import type { ScenarioResult } from './runner.ts'

/** The p99 a sustained step stays under (us). */
export const SUSTAINED_P99_US = 100_000

/**
 * The share of its CPU cap at which a broker has used all of it (runner.ts `capUsed`): the
 * kernel's quota holds it to 100%, and brokers that fell behind under the cap measured 98-101%.
 */
export const CAP_SPENT = 0.98

/**
 * Whether a run that was not sustained tells of the broker's limit: a valid run, or, under a CPU
 * cap, an invalid one (the load gave out: its publisher fell behind, the machine was busy) in
 * which the broker still used all its cap. The load it got was no more than the rate offered
 * and took all the CPU it had, so the rate is at or past what it can sustain, whatever the load
 * did. On the capped searches' steps where the publisher fell behind, the broker had used 88-101%
 * of its cap, most at 95% or more (reports/broker/capped-lead-checks.md, "The load gives out
 * where the broker does").
 */
export function brokerAtItsLimit (r: ScenarioResult): boolean {
  return r.valid || (r.broker.capUsed != null && r.broker.capUsed >= CAP_SPENT)
}

/** The suite's test of a sustained step: valid, 95% of what every subscriber should get delivered, p99 under 100 ms. */
export function sustainedStep (r: ScenarioResult, subscribers: number): boolean {
  return r.valid && r.deliveredRate >= 0.95 * r.publishedRate * subscribers && r.fast.latencyUs.p99 < SUSTAINED_P99_US
}

/**
 * Whether a step's measured window opened behind: its first message came later than a sustained
 * step's p99 allows, the backlog of the broker's start still being caught up. Said in the
 * progress line of a step tried again (stepTriedAgain), to tell a slow start from a tail inside
 * the window.
 */
export function openedBehind (r: ScenarioResult): boolean {
  const late = r.fast.windowStartLatencyUs
  return late != null && late >= SUSTAINED_P99_US
}

/**
 * Why a valid step was not sustained, for its progress line: the share delivered where it fell
 * short, its p99, and whether its window opened behind (a slow start) or on time (a tail inside
 * the window).
 */
export function notSustainedBecause (r: ScenarioResult, subscribers: number): string {
  const offered = r.publishedRate * subscribers
  const share = offered > 0 ? r.deliveredRate / offered : 0
  const late = r.fast.windowStartLatencyUs
  return [
    ...(r.valid ? [] : [`${r.invalidReason ?? 'invalid'}${r.broker.capUsed == null ? '' : `, with ${capUsedText(r.broker.capUsed)} used`}`]),
    ...(share < 0.95 ? [`${(share * 100).toFixed(0)}% delivered`] : []),
    `p99 ${(r.fast.latencyUs.p99 / 1000).toFixed(2)} ms`,
    late == null ? 'nothing came in its window' : openedBehind(r) ? `its window opened ${(late / 1000).toFixed(0)} ms behind` : 'its window opened on time'
  ].join(', ')
}

/**
 * The next rate to try between the highest sustained `best` and the lowest failed `failed`:
 * their midpoint, rounded to `grain`; null when no such rate lies strictly between them.
 */
export function refinedRate (best: number, failed: number, grain: number): number | null {
  const mid = Math.round((best + failed) / 2 / grain) * grain
  return mid > best && mid < failed ? mid : null
}

/**
 * One step of a search: `run(w)`, and where it was not sustained at the broker's limit
 * (brokerAtItsLimit), once more with `warmer(w)`; that run is the one returned. A step fails only
 * on two runs, the second warmed: one chance stall (a 200 ms TCP retransmission in a 3 s window,
 * a fresh broker still compiling its hot path) does not end a search, for either broker, while a
 * rate past a broker's limit fails both runs. A step sustained is never run again (that could
 * only lower a maximum), nor one whose load gave out with the broker below its limit (there the
 * load, not the broker, ends the search). `onAgain` hears of the first run and the warmed
 * workload before the second starts (the suite renames the first and says so).
 */
export async function stepTriedAgain<W> (
  w: W,
  run: (w: W) => Promise<ScenarioResult | null>,
  o: { subscribers: number, warmer: (w: W) => W, onAgain: (first: ScenarioResult, again: W) => void }
): Promise<ScenarioResult | null> {
  const first = await run(w)
  if (first === null || sustainedStep(first, o.subscribers) || !brokerAtItsLimit(first)) return first
  const again = o.warmer(w)
  o.onAgain(first, again)
  return await run(again)
}

export interface MaxSearch {
  /** The highest sustained run, or null when none was. */
  best: ScenarioResult | null
  /**
   * 'broker' when the first step not sustained was at the broker's limit (brokerAtItsLimit);
   * 'generator' when its load gave out with the broker below its limit, or it could not be
   * measured, or every step was sustained (the maximum is only a lower bound).
   */
  endedAt: 'broker' | 'generator'
}

export async function searchMaxRate (
  steps: readonly number[],
  run: (rate: number) => Promise<ScenarioResult | null>,
  o: { subscribers: number, refinements: number, grain: number }
): Promise<MaxSearch> {
  let best: ScenarioResult | null = null
  let failed: ScenarioResult | null = null
  for (const rate of steps) {
    const r = await run(rate)
    if (r === null) break
    if (!sustainedStep(r, o.subscribers)) { failed = r; break }
    best = r
  }
  const endedAt = failed !== null && brokerAtItsLimit(failed) ? 'broker' : 'generator'
  let failedRate = failed?.offeredRate ?? 0
  for (let i = 0; endedAt === 'broker' && best !== null && i < o.refinements; i++) {
    const rate = refinedRate(best.offeredRate, failedRate, o.grain)
    if (rate === null) break
    const r = await run(rate)
    if (r === null || !brokerAtItsLimit(r)) break // the load, not the broker: the range stays as it was
    if (sustainedStep(r, o.subscribers)) best = r
    else failedRate = rate
  }
  return { best, endedAt }
}
