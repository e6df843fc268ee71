/**
 * What a measuring bot records, pure (times are passed in): delivery latency (handler publish
 * to receipt, CLOCK_MONOTONIC microseconds, comparable across processes on one host), staleness
 * (age of the values it holds, sampled), updates the broker reported as skipped (conflation),
 * venue-sequence gaps (on venues whose sequence counts per instrument), and order violations (a seq that goes
 * backwards: must be 0).
 */
import { encodeHistogram, newHistogram, summarize, type Histogram, type LatencySummary } from '../lib/histogram.ts'
import { MAX_INSTRUMENTS_KEPT, VENUE_SEQUENCE_SCOPE, type Venue } from '../feeds/instruments.ts'
import type { MarketData } from '../feeds/tick.ts'
import { RecentMap } from '../lib/recent-map.ts'

/** Subjects a bot holds a value of: an instrument's quote and trade on each venue, and its BBO, fit 8 times over. */
export const MAX_SUBJECTS_HELD = MAX_INSTRUMENTS_KEPT * 8

export interface BotReport {
  name: string
  received: number
  decodeErrors: number
  skipped: number
  venueSeqGaps: number
  orderViolations: number
  republished: number
  latencyUs: LatencySummary
  stalenessMs: LatencySummary
  latencyHistogram: string
  stalenessHistogram: string
}

export class BotMeasurements {
  readonly latency: Histogram = newHistogram()
  readonly staleness: Histogram = newHistogram()
  /** Since the last takeInterval(): what the live status line shows. */
  private intervalLatency: Histogram = newHistogram()
  private intervalStaleness: Histogram = newHistogram()
  private intervalStart = {
    received: 0,
    decodeErrors: 0,
    skipped: 0,
    venueSeqGaps: 0,
    orderViolations: 0,
    republished: 0
  }
  received = 0
  decodeErrors = 0
  skipped = 0
  venueSeqGaps = 0
  orderViolations = 0
  republished = 0
  /**
   * subject -> the tick held (the newest received), for at most `maxSubjects` subjects, the one
   * received longest ago dropped past it (each sample of staleness walks them all).
   */
  readonly held: RecentMap<string, MarketData>

  constructor (readonly name: string, maxSubjects = MAX_SUBJECTS_HELD) {
    this.held = new RecentMap(maxSubjects)
  }

  record (subject: string, tick: MarketData, receivedMonoUs: number, skipped: number): void {
    this.received++
    this.skipped += skipped
    if (tick.type === 'quote' && tick.republish === true) this.republished++
    const latency = Math.max(0, receivedMonoUs - tick.pubMono)
    this.latency.recordValue(latency)
    this.intervalLatency.recordValue(latency)
    const previous = this.held.get(subject)
    if (previous !== undefined) {
      // An idempotent re-publish carries the same seq; anything lower is out of order.
      if (tick.seq < previous.seq) this.orderViolations++
      if (tick.type === 'quote' && previous.type === 'quote' && VENUE_SEQUENCE_SCOPE[tick.venue as Venue] === 'instrument' &&
        tick.venueSeq !== null && previous.venueSeq !== null && tick.venueSeq > previous.venueSeq + 1) {
        this.venueSeqGaps += tick.venueSeq - previous.venueSeq - 1
      }
    }
    if (previous === undefined || tick.seq >= previous.seq) this.held.set(subject, tick)
  }

  decodeError (): void {
    this.decodeErrors++
  }

  /**
   * Samples the age of every value held: now minus when the handler received it from the venue
   * (for a BBO, when the consolidator published it).
   */
  sampleStaleness (nowEpochMs: number): void {
    for (const tick of this.held.values()) {
      const age = Math.max(0, Math.round(nowEpochMs - (tick.type === 'bbo' ? tick.pubTime : tick.recvTime)))
      this.staleness.recordValue(age)
      this.intervalStaleness.recordValue(age)
    }
  }

  /** What happened since the previous call (counts and histograms), then starts a new interval. */
  takeInterval (): BotReport {
    const s = this.intervalStart
    const out: BotReport = {
      name: this.name,
      received: this.received - s.received,
      decodeErrors: this.decodeErrors - s.decodeErrors,
      skipped: this.skipped - s.skipped,
      venueSeqGaps: this.venueSeqGaps - s.venueSeqGaps,
      orderViolations: this.orderViolations - s.orderViolations,
      republished: this.republished - s.republished,
      latencyUs: summarize(this.intervalLatency),
      stalenessMs: summarize(this.intervalStaleness),
      latencyHistogram: encodeHistogram(this.intervalLatency),
      stalenessHistogram: encodeHistogram(this.intervalStaleness)
    }
    this.intervalStart = {
      received: this.received,
      decodeErrors: this.decodeErrors,
      skipped: this.skipped,
      venueSeqGaps: this.venueSeqGaps,
      orderViolations: this.orderViolations,
      republished: this.republished
    }
    this.intervalLatency = newHistogram()
    this.intervalStaleness = newHistogram()
    return out
  }

  report (): BotReport {
    return {
      name: this.name,
      received: this.received,
      decodeErrors: this.decodeErrors,
      skipped: this.skipped,
      venueSeqGaps: this.venueSeqGaps,
      orderViolations: this.orderViolations,
      republished: this.republished,
      latencyUs: summarize(this.latency),
      stalenessMs: summarize(this.staleness),
      latencyHistogram: encodeHistogram(this.latency),
      stalenessHistogram: encodeHistogram(this.staleness)
    }
  }
}
