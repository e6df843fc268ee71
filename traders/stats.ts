/**
 * Bot statistics as published on `stats.traders.<group>`: many bots' measurements merged into
 * one summary, so the demo and dashboard can show p50/p99 without knowing any bot.
 */
import { decodeHistogram, newHistogram, summarize, type LatencySummary } from '../lib/histogram.ts'
import type { BotReport } from './measurements.ts'

export const STATS_SUBJECT_PREFIX = 'stats.traders'

export interface GroupStats {
  v: 1
  type: 'bot-stats'
  group: string
  bots: number
  received: number
  decodeErrors: number
  skipped: number
  venueSeqGaps: number
  orderViolations: number
  latencyUs: LatencySummary
  stalenessMs: LatencySummary
  at: number
}

export function mergeReports (group: string, reports: readonly BotReport[]): GroupStats {
  const latency = newHistogram()
  const staleness = newHistogram()
  let received = 0; let decodeErrors = 0; let skipped = 0; let venueSeqGaps = 0; let orderViolations = 0
  for (const r of reports) {
    latency.add(decodeHistogram(r.latencyHistogram))
    staleness.add(decodeHistogram(r.stalenessHistogram))
    received += r.received
    decodeErrors += r.decodeErrors
    skipped += r.skipped
    venueSeqGaps += r.venueSeqGaps
    orderViolations += r.orderViolations
  }
  return { v: 1, type: 'bot-stats', group, bots: reports.length, received, decodeErrors, skipped, venueSeqGaps, orderViolations, latencyUs: summarize(latency), stalenessMs: summarize(staleness), at: Date.now() }
}
