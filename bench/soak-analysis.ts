/**
 * The soak's verdict, pure: given the broker's samples over time, is there an upward trend in
 * memory or open descriptors, and did throughput hold? Trends are judged by comparing the
 * medians (memory) or maxima (descriptors) of the first and last thirds of the run after the
 * warm-up, plus the least-squares slope, so a GC sawtooth or one busy sample does not decide.
 */
import { heldBytesBound } from '../broker/history.ts'
import { slope } from '../lib/trend.ts'
import { median } from './harness/stats.ts'

export interface SoakSample {
  /** ms since the soak started */
  t: number
  rssBytes: number
  heapUsedBytes: number
  openFds: number
  eventLoopP99Ms: number
  inMsgsPerSec: number
  outMsgsPerSec: number
  connections: number
  /** The broker's trade history: bytes and messages held, and messages that left it so far. */
  historyBytes?: number
  historyMessages?: number
  historyRemoved?: number
  /** Bytes of the history's slabs in use (`held_bytes`: the messages and the holes among them). */
  historyHeldBytes?: number
}

export interface SoakCheck {
  name: string
  pass: boolean
  detail: string
}

export interface SoakLimits {
  /** Samples before this (ms) are warm-up and not judged. */
  warmupMs: number
  /** Allowed growth of median RSS from the first to the last third: ratio plus bytes. */
  rssGrowthRatio: number
  rssGrowthBytes: number
  /** Allowed growth of the most open descriptors from the first to the last third. */
  fdGrowth: number
  /** The last third's median throughput must be at least this share of the first third's. */
  throughputHold: number
}

export const DEFAULT_SOAK_LIMITS: SoakLimits = {
  warmupMs: 60_000,
  rssGrowthRatio: 0.1,
  rssGrowthBytes: 8 * 1024 * 1024,
  fdGrowth: 10,
  throughputHold: 0.9
}


const MiB = 1024 * 1024
const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`

export function judgeSoak (samples: readonly SoakSample[], limits: SoakLimits = DEFAULT_SOAK_LIMITS): SoakCheck[] {
  const judged = samples.filter((s) => s.t >= limits.warmupMs)
  if (judged.length < 6) return [{ name: 'enough samples', pass: false, detail: `${judged.length} samples after the warm-up; need at least 6 (run longer)` }]
  const third = Math.floor(judged.length / 3)
  const first = judged.slice(0, third)
  const last = judged.slice(judged.length - third)
  const checks: SoakCheck[] = []

  const rssFirst = median(first.map((s) => s.rssBytes))
  const rssLast = median(last.map((s) => s.rssBytes))
  const rssAllowed = rssFirst * (1 + limits.rssGrowthRatio) + limits.rssGrowthBytes
  const rssSlope = slope(judged.map((s) => [s.t, s.rssBytes / MiB] as const)) * 60
  checks.push({ name: 'memory has no upward trend', pass: rssLast <= rssAllowed, detail: `median RSS ${mib(rssFirst)} -> ${mib(rssLast)} (allowed ${mib(rssAllowed)}); slope ${rssSlope.toFixed(2)} MiB/min` })

  const heapFirst = median(first.map((s) => s.heapUsedBytes))
  const heapLast = median(last.map((s) => s.heapUsedBytes))
  const heapAllowed = heapFirst * (1 + limits.rssGrowthRatio) + limits.rssGrowthBytes
  checks.push({ name: 'heap has no upward trend', pass: heapLast <= heapAllowed, detail: `median heap used ${mib(heapFirst)} -> ${mib(heapLast)} (allowed ${mib(heapAllowed)})` })

  const fdFirst = Math.max(...first.map((s) => s.openFds))
  const fdLast = Math.max(...last.map((s) => s.openFds))
  checks.push({ name: 'open descriptors have no upward trend', pass: fdLast <= fdFirst + limits.fdGrowth, detail: `most open ${fdFirst} -> ${fdLast} (allowed +${limits.fdGrowth})` })

  for (const [name, key] of [['published throughput holds', 'inMsgsPerSec'], ['delivered throughput holds', 'outMsgsPerSec']] as const) {
    const a = median(first.map((s) => s[key]))
    const b = median(last.map((s) => s[key]))
    checks.push({ name, pass: b >= a * limits.throughputHold, detail: `median ${Math.round(a).toLocaleString('en-US')}/s -> ${Math.round(b).toLocaleString('en-US')}/s (at least ${Math.round(limits.throughputHold * 100)}%)` })
  }
  const elp = judged.map((s) => s.eventLoopP99Ms)
  checks.push({ name: 'event-loop delay reported', pass: elp.every(Number.isFinite), detail: `p99 per interval: median ${median(elp).toFixed(1)} ms, worst ${Math.max(...elp).toFixed(1)} ms` })
  return checks
}

/**
 * The trade history's bound held: at no sample did it hold more than `maxBytes`, nor its slabs
 * more than history.ts's bound for that much (about twice it), and it reached the bound
 * (messages left it), so the run tested the bound rather than stayed below it.
 */
export function judgeHistory (samples: readonly SoakSample[], maxBytes: number): SoakCheck {
  const sampled = samples.filter((s) => s.historyBytes !== undefined)
  if (sampled.length === 0) return { name: 'the trade history stays within its bound', pass: false, detail: 'no sample carried the history (is --history off?)' }
  const most = Math.max(...sampled.map((s) => s.historyBytes as number))
  const removed = Math.max(...sampled.map((s) => s.historyRemoved ?? 0))
  const messages = Math.max(...sampled.map((s) => s.historyMessages ?? 0))
  const held = sampled.filter((s) => s.historyHeldBytes !== undefined).map((s) => s.historyHeldBytes as number)
  const heldMost = held.length === 0 ? null : Math.max(...held)
  const heldBound = heldBytesBound(maxBytes)
  return {
    name: 'the trade history stays within its bound',
    pass: most <= maxBytes && removed > 0 && (heldMost === null || heldMost <= heldBound),
    detail: `at most ${mib(most)} held of ${mib(maxBytes)} (${messages.toLocaleString('en-US')} messages at most); ` +
      (heldMost === null ? '' : `its slabs at most ${mib(heldMost)} of ${mib(heldBound)} allowed; `) +
      `${removed.toLocaleString('en-US')} left it by its limits${removed === 0 ? ': it never reached them, run longer or lower --history-max-bytes' : ''}`
  }
}
