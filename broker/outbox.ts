/**
 * A connection's outbox: what is waiting to be written to its socket, and where a slow
 * consumer is conflated.
 *
 * Two modes:
 * - flowing: deliveries are appended as shared buffer pieces (no copy, no allocation) and
 *   taken as one Buffer per flush turn: one socket write per connection per turn;
 * - conflating: entered when the socket's own buffer passed the high-water mark after a write.
 *   Pending messages are held in one insertion-ordered Map. A last-value message replaces the
 *   pending one for the same (subscription, subject) and moves to the end, counting the one it
 *   superseded, so what is finally delivered is always an order-preserving subsequence of what
 *   was published, and memory is one message per (subscription, subject). Event and plain
 *   messages are never conflated: they queue in order up to `maxPendingEventBytes`, past
 *   which the outbox reports an overflow and the connection is closed as a slow consumer.
 *
 * The Map's first entry is always the oldest undelivered update, which is what the staleness
 * limit looks at.
 */
import { SubjectClass } from './subject-classes.ts'
import { encodeConflatedFrame, type RoutedMessage } from './wire.ts'

/** The parts of a subscription the outbox needs. */
export interface OutboxSubscription {
  /** Unique per subscription in this broker; part of the conflation key. */
  readonly uid: number
  readonly sidBytes: Buffer
}

interface HeldMessage {
  readonly sub: OutboxSubscription
  readonly msg: RoutedMessage
  readonly skipped: number
  readonly bytes: number
}

interface HeldControl {
  readonly sub: null
  readonly control: Buffer
  readonly enqueuedAtMs: number
}

type Held = HeldMessage | HeldControl

export interface OutboxOptions {
  /** Whether this client negotiated headers (HMSG, and the Tickfan-Conflated header). */
  headers: boolean
  /** Undelivered event/plain bytes allowed while conflating before overflow. */
  maxPendingEventBytes: number
}

export type DeliverOutcome = 'queued' | 'conflated' | 'overflow'

export class Outbox {
  headers: boolean
  private readonly maxPendingEventBytes: number

  private parts: Buffer[] = []
  private partsBytes = 0
  private partsMessages = 0

  private held: Map<string | number, Held> | null = null
  private heldEventBytes = 0
  private heldLastValueBytes = 0
  private nextEventKey = 0
  private conflatingSinceMs = 0

  /** Messages superseded while conflating (each one a value the client never saw). */
  conflated = 0
  /** Messages taken for writing (after conflation). */
  messagesOut = 0

  constructor (options: OutboxOptions) {
    this.headers = options.headers
    this.maxPendingEventBytes = options.maxPendingEventBytes
  }

  get conflating (): boolean {
    return this.held !== null
  }

  get conflatingSince (): number {
    return this.conflatingSinceMs
  }

  /** Bytes waiting in this outbox (not counting what the socket itself buffers). */
  get pendingBytes (): number {
    return this.partsBytes + this.heldEventBytes + this.heldLastValueBytes
  }

  get pendingMessages (): number {
    return this.held === null ? this.partsMessages : this.partsMessages + this.held.size
  }

  get isEmpty (): boolean {
    return this.partsBytes === 0 && (this.held === null || this.held.size === 0)
  }

  /** Publish time of the oldest undelivered message held while conflating. */
  oldestPendingAtMs (): number | undefined {
    if (this.held === null) return undefined
    for (const entry of this.held.values()) {
      return entry.sub === null ? entry.enqueuedAtMs : entry.msg.publishedAtMs
    }
    return undefined
  }

  deliver (sub: OutboxSubscription, msg: RoutedMessage): DeliverOutcome {
    const held = this.held
    if (held === null) {
      const withHeaders = this.headers
      const parts = this.parts
      const head = msg.head(withHeaders)
      const tail = msg.tail(withHeaders)
      const body = msg.bodyFor(withHeaders)
      parts.push(head, sub.sidBytes, tail, body)
      this.partsBytes += head.length + sub.sidBytes.length + tail.length + body.length
      this.partsMessages++
      return 'queued'
    }
    const bytes = msg.frameBytes
    if (msg.subjectClass === SubjectClass.LastValue) {
      const key = `${sub.uid} ${msg.subject}`
      const previous = held.get(key) as HeldMessage | undefined
      let skipped = 0
      if (previous !== undefined) {
        held.delete(key)
        this.heldLastValueBytes -= previous.bytes
        skipped = previous.skipped + 1
        this.conflated++
      }
      held.set(key, { sub, msg, skipped, bytes })
      this.heldLastValueBytes += bytes
      return previous === undefined ? 'queued' : 'conflated'
    }
    this.heldEventBytes += bytes
    held.set(this.nextEventKey++, { sub, msg, skipped: 0, bytes })
    return this.heldEventBytes > this.maxPendingEventBytes ? 'overflow' : 'queued'
  }

  /** Protocol replies (PONG, +OK, -ERR, PING, INFO) keep their place in the stream. */
  control (line: Buffer): void {
    if (this.held === null) {
      this.parts.push(line)
      this.partsBytes += line.length
      return
    }
    this.heldEventBytes += line.length
    this.held.set(this.nextEventKey++, { sub: null, control: line, enqueuedAtMs: this.conflatingSinceMs })
  }

  /** The socket is past its high-water mark: hold and conflate until it drains. */
  startConflating (nowMs: number): void {
    if (this.held !== null) return
    this.held = new Map()
    this.conflatingSinceMs = nowMs
    // Anything appended since the last take keeps its place ahead of the held entries.
  }

  /** The socket drained: the held values become ordinary pending bytes for the next flush. */
  stopConflating (): void {
    const held = this.held
    if (held === null) return
    this.held = null
    const withHeaders = this.headers
    for (const entry of held.values()) {
      if (entry.sub === null) {
        this.parts.push(entry.control)
        this.partsBytes += entry.control.length
        continue
      }
      const { sub, msg, skipped } = entry
      if (skipped > 0 && withHeaders) {
        const frame = encodeConflatedFrame(msg, sub.sidBytes, skipped)
        this.parts.push(frame)
        this.partsBytes += frame.length
      } else {
        const head = msg.head(withHeaders)
        const tail = msg.tail(withHeaders)
        const body = msg.bodyFor(withHeaders)
        this.parts.push(head, sub.sidBytes, tail, body)
        this.partsBytes += head.length + sub.sidBytes.length + tail.length + body.length
      }
      this.partsMessages++
    }
    this.heldEventBytes = 0
    this.heldLastValueBytes = 0
  }

  /** Everything flowing, as one Buffer for one socket write; null when there is nothing. */
  take (): Buffer | null {
    if (this.partsBytes === 0) return null
    const parts = this.parts
    const chunk = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts, this.partsBytes)
    this.messagesOut += this.partsMessages
    this.parts = []
    this.partsBytes = 0
    this.partsMessages = 0
    return chunk
  }

  /** Bytes appended since the last take (flowing mode). */
  get flowingBytes (): number {
    return this.partsBytes
  }

  /** Drops everything (the connection is closing). */
  clear (): void {
    this.parts = []
    this.partsBytes = 0
    this.partsMessages = 0
    this.held = null
    this.heldEventBytes = 0
    this.heldLastValueBytes = 0
  }
}
