/**
 * A connection's flow window, and the decision to conflate it: when a client is too far
 * behind for more to be written, and when it has caught up enough to be written to again.
 * `outbox.ts` holds the mechanism (what is queued, and how a held last value supersedes an
 * older one); this module decides when the outbox switches between flowing and conflating.
 * `Client` asks it after each write and on each PONG or socket drain.
 *
 * The protocol's own PING/PONG is the acknowledgement. Every client answers a server PING with
 * a PONG, in stream order, so a PONG proves it has consumed every byte written before that
 * PING. Each PING sent is remembered with its stream offset and time:
 *
 *     written ──────────────────────────────────────────────────► outBytes
 *     │◄── acked ──►│◄──────────── in flight ───────────────────►│
 *                   ▲ PING @ offset a, t0      ▲ PING @ offset b, t1
 *                   (the next PONG acks a)
 *
 * Bytes written but not acknowledged are in flight somewhere: the kernel's socket buffers,
 * which Node cannot see or size, or the client's own queue. A connection is conflated when:
 * - its socket's own buffer passed the high-water mark; or
 * - more than the window is in flight; or
 * - the oldest unanswered PING is older than maxAckWaitMs: time bounds staleness where bytes
 *   cannot, since a reader that has not answered is behind by at least that long.
 * Without this a slow reader on loopback drains megabytes of stale kernel-buffered data before
 * it sees the newest values.
 *
 * The window and the PING's age are about last values, the only messages conflating can drop:
 * a write that holds none (events and plain messages, delivered in order whether held or not)
 * is judged by the socket's own buffer alone, as nats-server judges every write. Holding them
 * only delayed them, and a broker late on its own work (under a CPU quota, or behind on its
 * input) read its fast event readers' PONGs late, judged them behind, and held their
 * publishers back with them (reports/broker/history-fill.md, section 10).
 *
 * Probes are pipelined, as TCP's acknowledgements are: a PING goes out with every quarter of
 * the window written past the last one, up to MAX_PINGS_OUT at a time. With one PING out at a
 * time, each PONG acknowledged only what was written a whole round trip before it, so a
 * reader as fast as the broker could write held up to two round trips of bytes in flight and
 * was conflated at half the rate the window allows.
 *
 * The window adapts, like TCP's, to the reader: bytes it acknowledges per ms (sampled only when
 * the window held it back) times a quarter of maxAckWaitMs, between MIN_WINDOW_BYTES and
 * maxInFlightBytes. A fast reader keeps the whole allowance; a slow one gets about 25 ms of its
 * own work in flight, so what it reads is never much older than that. The rate is what the
 * reader acknowledged over at least MIN_SAMPLE_MS between PONGs (from the PONG that began the
 * sample, or from its first PING's sending, if later): not over each PING's round trip, which
 * also holds the time the broker itself took to read the PONG (a broker behind on its own work,
 * under a CPU quota or a burst of input, read PONGs late and measured its fastest readers as
 * slow), and not from one PONG to the next, since a client that answers several PINGs in one
 * write (a slow reader working through a whole read) would look infinitely fast
 * (reports/broker/flow-window.md).
 */

/** The smallest flow window: a few messages in flight even for the slowest reader. */
const MIN_WINDOW_BYTES = 8 * 1024
/** A new connection starts small, like TCP's slow start: a reader proves it is fast first. */
const INITIAL_WINDOW_BYTES = 64 * 1024
/** Probe PINGs out at once: one per quarter of the window. */
const MAX_PINGS_OUT = 4
/** The shortest time a rate sample spans: longer than a client's batching of its PONGs. */
const MIN_SAMPLE_MS = 10

export interface FlowLimits {
  /** The largest window: bytes in flight past which any client is conflated. */
  readonly maxInFlightBytes: number
  /** How long a PING may stay unanswered before the client is conflated. */
  readonly maxAckWaitMs: number
  /** Socket-buffered bytes past which the client is conflated. */
  readonly highWaterBytes: number
}

/**
 * Why a connection was judged too far behind to be written to: its socket's own buffer passed
 * the high-water mark, the window is in flight, or a PING went unanswered past maxAckWaitMs.
 */
export type ConflationCause = 'socket_buffer' | 'window' | 'ack_wait'

/** What to do for a conflating client whose socket drained or who acknowledged bytes. */
export type Release = 'hold' | 'probe' | 'release'

export class FlowControl {
  /** The stream offset (outBytes) after each PING sent and not yet answered, oldest first. */
  private readonly pingPositions: number[] = []
  /** When each PING in pingPositions was written (host clock, ms). */
  private readonly pingTimes: number[] = []
  private ackedBytes = 0
  /** When the last PONG arrived (host clock, ms; NaN: none yet). */
  private ackedAtMs = Number.NaN
  /** Where and when the rate sample under way began (NaN: none under way). */
  private sampleFromBytes = 0
  private sampleFromMs = Number.NaN
  private ackBytesPerMs = 0
  /** The current in-flight allowance; see the module comment. */
  windowBytes: number

  constructor (private readonly limits: FlowLimits) {
    this.windowBytes = Math.min(INITIAL_WINDOW_BYTES, limits.maxInFlightBytes)
  }

  /** Bytes written (`outBytes` so far) that the client has not acknowledged. */
  inFlight (outBytes: number): number {
    return outBytes - this.ackedBytes
  }

  /** Is a PING out, not yet answered? */
  get awaitingPong (): boolean { return this.pingTimes.length > 0 }

  /** Is the oldest unanswered PING older than maxAckWaitMs? */
  overdue (nowMs: number): boolean {
    return this.pingTimes.length > 0 && nowMs - (this.pingTimes[0] as number) > this.limits.maxAckWaitMs
  }

  /**
   * Should a probe PING end the write about to go out, taking the stream to `outBytesAfter`?
   * Yes when a quarter of the window would be written past the last PING out (or past what is
   * acknowledged, with none out), and fewer than MAX_PINGS_OUT are out: often enough that the
   * acknowledged offset follows the reader within about a round trip, and that an unanswered
   * probe's age tracks how far behind the reader is.
   */
  wantsProbe (outBytesAfter: number): boolean {
    const out = this.pingPositions.length
    if (out >= MAX_PINGS_OUT) return false
    const since = out === 0 ? this.ackedBytes : this.pingPositions[out - 1] as number
    return outBytesAfter - since >= this.windowBytes / 4
  }

  /** A PING went out, ending the stream at `outBytes`. */
  pingSent (outBytes: number, nowMs: number): void {
    this.pingPositions.push(outBytes)
    this.pingTimes.push(nowMs)
  }

  /**
   * A PONG arrived: it acknowledges the oldest PING. `heldBack` says whether the pipe was the
   * limit (the client is conflating, or half the window is in flight): only then does the
   * elapsed time measure how fast it reads, not how much there was to send.
   */
  acknowledged (outBytes: number, conflating: boolean, nowMs: number): void {
    const position = this.pingPositions.shift()
    const sentAt = this.pingTimes.shift()
    if (position === undefined || position <= this.ackedBytes) return
    const heldBack = conflating || this.inFlight(outBytes) >= this.windowBytes / 2
    if (!heldBack || sentAt === undefined) {
      this.sampleFromMs = Number.NaN // the reader was not the limit: no sample spans this
    } else {
      if (Number.isNaN(this.sampleFromMs)) {
        // From the previous PONG, or from this PING's sending if that came later (see the top).
        this.sampleFromBytes = this.ackedBytes
        this.sampleFromMs = this.ackedAtMs > sentAt ? this.ackedAtMs : sentAt
      }
      if (nowMs - this.sampleFromMs >= MIN_SAMPLE_MS) {
        this.adapt(position - this.sampleFromBytes, nowMs - this.sampleFromMs)
        this.sampleFromBytes = position
        this.sampleFromMs = nowMs
      }
    }
    this.ackedBytes = position
    this.ackedAtMs = nowMs
  }

  /**
   * After a write: is the client now too far behind to be written to? Null when it is not, else
   * why. The window counts only for a write that held `lastValues` (see the top).
   */
  mustConflate (outBytes: number, socketBufferedBytes: number, lastValues = true): ConflationCause | null {
    if (socketBufferedBytes >= this.limits.highWaterBytes) return 'socket_buffer'
    return lastValues && this.inFlight(outBytes) >= this.windowBytes ? 'window' : null
  }

  /**
   * A conflating client's socket drained or it acknowledged bytes: may what was held go out?
   * 'probe' when too much is still in flight and no PING asks about it (send one after
   * everything already written); 'hold' while any mark is still passed.
   */
  release (outBytes: number, socketBufferedBytes: number, nowMs: number): Release {
    if (socketBufferedBytes >= this.limits.highWaterBytes) return 'hold'
    if (this.inFlight(outBytes) >= this.windowBytes) return this.pingPositions.length === 0 ? 'probe' : 'hold'
    return this.overdue(nowMs) ? 'hold' : 'release'
  }

  private adapt (ackedBytes: number, elapsedMs: number): void {
    const sample = ackedBytes / Math.max(1, elapsedMs)
    this.ackBytesPerMs = this.ackBytesPerMs === 0 ? sample : 0.5 * this.ackBytesPerMs + 0.5 * sample
    const target = this.ackBytesPerMs * this.limits.maxAckWaitMs / 4
    this.windowBytes = Math.round(Math.min(this.limits.maxInFlightBytes, Math.max(MIN_WINDOW_BYTES, target)))
  }
}
