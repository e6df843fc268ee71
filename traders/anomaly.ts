/**
 * The monitor's judgement, pure: a venue gone silent (no quote or trade for `silentMs`), and
 * latency spikes (a tick's delivery latency above `latencySpikeUs`, reported at most once per
 * venue per interval). The monitor watches the traffic only: no publisher knows it exists.
 */
export interface Anomaly {
  v: 1
  type: 'anomaly'
  kind: 'venue_silent' | 'venue_back' | 'latency_spike'
  venue: string
  detail: string
  at: number
}

export interface AnomalyOptions {
  silentMs: number
  latencySpikeUs: number
  /** At most one latency-spike report per venue per this interval. */
  spikeReportIntervalMs: number
}

export class AnomalyDetector {
  private readonly lastSeen = new Map<string, number>()
  private readonly silent = new Set<string>()
  private readonly lastSpikeReport = new Map<string, number>()

  constructor (private readonly options: AnomalyOptions, private readonly now: () => number = Date.now) {}

  /** A tick from `venue` arrived with this delivery latency. */
  observe (venue: string, latencyUs: number): Anomaly | null {
    const t = this.now()
    this.lastSeen.set(venue, t)
    if (this.silent.delete(venue)) return { v: 1, type: 'anomaly', kind: 'venue_back', venue, detail: 'venue is publishing again', at: t }
    if (latencyUs > this.options.latencySpikeUs) {
      const last = this.lastSpikeReport.get(venue)
      if (last === undefined || t - last >= this.options.spikeReportIntervalMs) {
        this.lastSpikeReport.set(venue, t)
        return { v: 1, type: 'anomaly', kind: 'latency_spike', venue, detail: `delivery latency ${(latencyUs / 1000).toFixed(1)} ms over ${(this.options.latencySpikeUs / 1000).toFixed(1)} ms`, at: t }
      }
    }
    return null
  }

  /** Periodic check: venues that went silent since the last check. */
  check (): Anomaly[] {
    const t = this.now()
    const out: Anomaly[] = []
    for (const [venue, seen] of this.lastSeen) {
      if (!this.silent.has(venue) && t - seen > this.options.silentMs) {
        this.silent.add(venue)
        out.push({ v: 1, type: 'anomaly', kind: 'venue_silent', venue, detail: `no message for ${t - seen} ms`, at: t })
      }
    }
    return out
  }

  get silentVenues (): string[] {
    return [...this.silent]
  }
}
