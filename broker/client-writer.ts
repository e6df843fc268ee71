/**
 * The write side of one connection: what waits for its socket (the outbox), one socket write
 * per flush turn, and the switch between flowing and conflating that flow control decides.
 *
 *   Client.deliver ─► outbox ─► flush(): take() ─► one transport.write ─► flow.mustConflate?
 *                       ▲                                                    │ yes
 *                       └── drained() / PONG: flow.release? ◄── conflating ◄─┘
 *
 * Flow-control and keep-alive PINGs ride at the end of a write, so each PONG acknowledges
 * every byte written before it (flow-control.ts).
 */
import type { Transport } from './client-host.ts'
import { type ConflationCause, FlowControl, type FlowLimits } from './flow-control.ts'
import { Outbox, type OutboxOptions } from './outbox.ts'
import { releaseWritten } from './write-buffer.ts'

const PING = Buffer.from('PING\r\n')
/** Writes whose buffers a writer waits for, to give them back to the pool (see inFlight). */
const MAX_TRACKED_WRITES = 64

/** What the writer tells its connection. */
/** How much a conflating outbox may hold (outbox.ts). */
export type PendingLimits = Pick<OutboxOptions, 'maxPendingEventBytes' | 'maxPendingLastValueBytes'>

export interface WriterEvents {
  /** Something was queued: the connection wants a flush turn. */
  dirty (): void
  /** The writer started conflating, and why (a cause), or stopped (null). */
  conflating (cause: ConflationCause | null): void
  /** The socket threw on write: the connection is gone. */
  failed (): void
}

export interface WriterLimits extends FlowLimits {
  readonly now: () => number
}

export class ClientWriter {
  readonly outbox: Outbox
  private readonly flow: FlowControl
  /** A keep-alive PING is due: it goes at the end of the next write. */
  wantPing = false
  /** Set when the connection closed: nothing more is queued or written. */
  stopped = false
  outBytes = 0
  writes = 0
  /**
   * Pooled chunks handed to the transport and not yet written (see write()), at most
   * MAX_TRACKED_WRITES: past that the oldest is forgotten (left to the GC), and the callback that
   * comes for it is only counted in `forgotten`, so a transport that never calls back keeps
   * nothing here and one that calls back late never frees a chunk still in flight.
   */
  private readonly inFlight: Buffer[] = []
  private forgotten = 0
  private readonly written = (): void => {
    if (this.forgotten > 0) {
      this.forgotten--
      return
    }
    const chunk = this.inFlight.shift()
    if (chunk !== undefined) releaseWritten(chunk)
  }

  constructor (
    private readonly transport: Transport,
    private readonly limits: WriterLimits,
    pending: PendingLimits,
    private readonly events: WriterEvents
  ) {
    this.outbox = new Outbox({ headers: false, ...pending })
    this.flow = new FlowControl(limits)
  }

  /**
   * Has this turn grown past the high-water mark? Then write now, not at the end of the turn
   * (nats.js and nats-server flush early past a byte threshold too). Deliveries go straight
   * into `outbox` (Client.deliver): this is the hot path, so no call in between.
   */
  turnFull (): boolean {
    return this.outbox.flowingBytes >= this.limits.highWaterBytes && !this.outbox.conflating
  }

  /**
   * Queues a protocol line (+OK, PONG, -ERR, INFO): never conflated. 'overflow': past the event limit (see
   * Outbox.control).
   */
  control (line: Buffer): 'queued' | 'overflow' {
    if (this.stopped) return 'queued'
    const outcome = this.outbox.control(line, this.limits.now())
    this.events.dirty()
    return outcome
  }

  /** Writes what is pending: one socket write. */
  flush (): void {
    if (this.stopped || this.outbox.conflating) return
    // The clock is read only where the time decides something: this runs every turn.
    const clock = this.limits.now
    // Only a write that holds a last value is judged by the window and the PING's age (flow-control.ts).
    const lastValues = this.outbox.flowingHasLastValue
    if (lastValues && this.flow.awaitingPong && this.flow.overdue(clock())) return this.startConflating(clock(), 'ack_wait')
    // A flow-control probe or the keep-alive PING goes at the end of this write.
    const ping = this.flow.wantsProbe(this.outBytes + this.outbox.flowingBytes) || this.wantPing
    if (ping) {
      this.outbox.control(PING)
      this.wantPing = false
    }
    const chunk = this.outbox.take(this.transport.bufferedBytes === 0)
    if (chunk === null || !this.write(chunk, true)) return
    if (ping) this.flow.pingSent(this.outBytes, clock())
    const cause = this.flow.mustConflate(this.outBytes, this.transport.bufferedBytes, lastValues)
    if (cause !== null) this.startConflating(clock(), cause)
  }

  /**
   * For a connection closing: what is queued and flowing, copied out of the write buffer (a
   * conflating connection's held messages are not written: it is behind); null when nothing is.
   */
  lastWrite (): Buffer | null {
    if (this.stopped || this.outbox.conflating) return null
    const chunk = this.outbox.take()
    if (chunk === null) return null
    const copy = Buffer.from(chunk)
    releaseWritten(chunk)
    return copy
  }

  /** The socket drained: release what was held, if flow control allows. */
  drained (): void {
    if (this.stopped || !this.outbox.conflating) return
    const now = this.limits.now()
    const release = this.flow.release(this.outBytes, this.transport.bufferedBytes, now)
    if (release === 'probe' && this.write(PING)) this.flow.pingSent(this.outBytes, now)
    if (release !== 'release') return
    this.outbox.stopConflating()
    this.events.conflating(null)
    this.events.dirty()
  }

  /** The client answered a PING: every byte written before it was consumed. */
  acknowledged (): void {
    this.flow.acknowledged(this.outBytes, this.outbox.conflating, this.limits.now())
    if (this.outbox.conflating) this.drained()
  }

  /** Deliveries dropped because a newer value of the same subject superseded them. */
  get conflated (): number { return this.outbox.conflated }
  get outMsgs (): number { return this.outbox.messagesOut }
  /** Headers and payloads written, in bytes (nats-server's out_bytes); `outBytes` counts the protocol too. */
  get outPayloadBytes (): number { return this.outbox.payloadBytesOut }
  /** The current flow window (see flow-control.ts). */
  get flowWindowBytes (): number { return this.flow.windowBytes }
  /** Written bytes the client has not acknowledged yet. */
  get inFlightBytes (): number { return this.flow.inFlight(this.outBytes) }
  /** Bytes waiting for this client: its outbox plus what its socket buffers. */
  get pendingBytes (): number { return this.outbox.pendingBytes + (this.stopped ? 0 : this.transport.bufferedBytes) }

  private startConflating (nowMs: number, cause: ConflationCause): void {
    this.outbox.startConflating(nowMs)
    this.events.conflating(cause)
  }

  /**
   * Writes `chunk`; a `pooled` one (the outbox's) goes back to the write-buffer pool once the
   * transport is done with it. Transports finish their writes in order, so the chunks in flight
   * are a queue.
   */
  private write (chunk: Buffer, pooled = false): boolean {
    try {
      if (pooled) {
        if (this.inFlight.push(chunk) > MAX_TRACKED_WRITES) {
          this.inFlight.shift()
          this.forgotten++
        }
        this.transport.write(chunk, this.written)
      } else {
        this.transport.write(chunk)
      }
    } catch {
      this.events.failed()
      return false
    }
    this.writes++
    this.outBytes += chunk.length
    return true
  }
}
