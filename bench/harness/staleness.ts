/**
 * Staleness, time-weighted: how old the value a subscriber holds is, at every instant of the
 * measured window, computed after the run from when each value was received and when it was
 * meant to be sent. A timer sampling the held values would run on the subscriber's own thread,
 * so a slow subscriber blocked in its work would sample only in the moments it is free, just
 * after it has read the freshest values; this sees the whole window, blocked moments included.
 *
 * Between two receipts on a subject the held value ages linearly, so its age over that interval
 * is uniform between its first and last age. Each interval is cut into up to 16 pieces, each
 * recorded at its middle age with a weight of its duration in microseconds; the percentiles
 * are then shares of time. A piece's age is off by at most a 32nd of the interval.
 */
import type { Histogram } from '../../lib/histogram.ts'

/** Receipts of one connection: subject index, intended send time and receive time (ns, one clock). */
/** `a` in an array twice its length (its values first): the logs' growth, with no object per entry. */
export function doubled<T extends Uint32Array | Float64Array> (a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2)
  b.set(a)
  return b
}

export class ReceiptLog {
  private subjects = new Uint32Array(1024)
  private intended = new Float64Array(1024)
  private received = new Float64Array(1024)
  length = 0

  add (subject: number, intendedNs: number, receivedNs: number): void {
    if (this.length === this.subjects.length) {
      this.subjects = doubled(this.subjects)
      this.intended = doubled(this.intended)
      this.received = doubled(this.received)
    }
    this.subjects[this.length] = subject
    this.intended[this.length] = intendedNs
    this.received[this.length] = receivedNs
    this.length++
  }

  /** Receipts with a receive time in [fromNs, toNs). */
  countWithin (fromNs: number, toNs: number): number {
    let n = 0
    for (let i = 0; i < this.length; i++) {
      const r = this.received[i] as number
      if (r >= fromNs && r < toNs) n++
    }
    return n
  }

  /**
   * Records the time-weighted age (us) of every subject's held value over [fromNs, toNs) into
   * `into`. A subject counts from its first receipt on (before it, nothing was held).
   */
  recordStaleness (into: Histogram, fromNs: number, toNs: number): void {
    const held = new Map<number, { intended: number, since: number }>()
    const hold = (start: number, end: number, intended: number): void => {
      const a = Math.max(start, fromNs)
      const b = Math.min(end, toNs)
      if (b <= a) return
      const pieces = Math.min(16, Math.max(1, Math.ceil((b - a) / 500_000)))
      const step = (b - a) / pieces
      for (let p = 0; p < pieces; p++) {
        const mid = a + (p + 0.5) * step
        into.recordValueWithCount(
          Math.max(0, Math.round((mid - intended) / 1000)),
          Math.max(1, Math.round(step / 1000))
        )
      }
    }
    for (let i = 0; i < this.length; i++) {
      const subject = this.subjects[i] as number
      const received = this.received[i] as number
      const before = held.get(subject)
      if (before !== undefined) hold(before.since, received, before.intended)
      held.set(subject, { intended: this.intended[i] as number, since: received })
    }
    for (const h of held.values()) hold(h.since, toNs, h.intended)
  }
}
