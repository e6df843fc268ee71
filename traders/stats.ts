/**
 * Bot statistics as published on `stats.traders.<group>`: many bots' measurements merged into
 * one summary, so the demo and dashboard can show p50/p99 without knowing any bot.
 */
import { decodeHistogram, newHistogram, summarize, type LatencySummary } from '../lib/histogram.ts'
import type { NatsConnection } from '@nats-io/transport-node'
import { failureReason, guardedCallback } from '../lib/guarded-callback.ts'
import { parseMessage } from '../lib/json-message.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
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

/** The fields a GroupStats message must carry for anyone to show it. */
const GROUP_STATS_FIELDS = {
  group: 'string',
  bots: 'number',
  received: 'number',
  decodeErrors: 'number',
  skipped: 'number',
  venueSeqGaps: 'number',
  orderViolations: 'number',
  'latencyUs.p50': 'number',
  'latencyUs.p99': 'number',
  'stalenessMs.p50': 'number',
  'stalenessMs.p99': 'number',
  at: 'number'
} as const

/** At most this many groups are kept: the demo runs two (fast and slow). */
export const MAX_STATS_GROUPS = 8

/**
 * The newest stats of each group heard on `stats.traders.<group>`, for the demo's and the
 * traders' status lines. What is not a GroupStats of the subject's own group, and groups past
 * MAX_STATS_GROUPS, are refused with a reason: a message kept here is read by a timer later.
 */
export class GroupStatsBoard {
  readonly groups = new Map<string, GroupStats>()

  /** Keeps the message; returns why not, or null. */
  note (subject: string, data: Uint8Array): string | null {
    const parsed = parseMessage<GroupStats>(data, GROUP_STATS_FIELDS)
    if (!parsed.ok) return parsed.reason
    const stats = parsed.value
    if (subject !== `${STATS_SUBJECT_PREFIX}.${stats.group}`) return `group ${JSON.stringify(stats.group.slice(0, 40))} is not the subject's`
    if (!this.groups.has(stats.group) && this.groups.size >= MAX_STATS_GROUPS) return `more than ${MAX_STATS_GROUPS} groups`
    this.groups.set(stats.group, stats)
    return null
  }
}

/** Subscribes `nc` to every group's stats; refusals are logged, at most one line each 10 s. */
export function watchGroupStats (nc: NatsConnection, log: (line: string) => void): GroupStatsBoard {
  const board = new GroupStatsBoard()
  const refusals = new ThrottledLog((_k, detail, suppressed) => log(`stats: refused a message (${detail}); ${suppressed} more since the last report`))
  nc.subscribe(`${STATS_SUBJECT_PREFIX}.*`, {
    callback: guardedCallback((m) => {
      const reason = board.note(m.subject, m.data)
      if (reason !== null) refusals.note('refused', `${m.subject}: ${reason}`)
    }, (m, err) => refusals.note('refused', `${m.subject}: ${failureReason(err)}`))
  })
  return board
}
