/**
 * A connection's outbox: what is waiting to be written to its socket, and where a slow
 * consumer is conflated.
 *
 * Two modes:
 * - flowing: each delivery goes into the next socket write as it is queued (write-buffer.ts):
 *   its MSG line written byte by byte and the body after it, or, where subscribers share a sid,
 *   a reference to the one frame built for them, joined at flush; one socket write per
 *   connection per flush turn;
 * - conflating: entered when the socket's own buffer passed the high-water mark after a write.
 *   Pending messages are held in one append-only list. A last-value message supersedes the
 *   pending one for the same (subscription, subject): the old entry becomes a tombstone and the
 *   new one is appended, counting the one it superseded, so what is finally delivered is always
 *   an order-preserving subsequence of what was published, and memory is one message per
 *   (subscription, subject), up to `maxPendingLastValueBytes` (reached only by subjects that keep
 *   sprawling; past it the connection is a slow consumer). Event and plain messages are never
 *   conflated: they queue in order up to `maxPendingEventBytes`, past which the outbox reports an
 *   overflow and the connection is closed as a slow consumer. Each is written at once, as flowing
 *   mode writes it, into one chain of pooled chunks (HeldEvents); consecutive ones are one entry
 *   of the list, a range of that chain (EventRun): no copy of the message and no entry per
 *   message, so a connection judged behind costs the broker little more per trade than one that
 *   is not (reports/broker/flow-window.md), and what it holds is what it is counted for
 *   (reports/broker/held-runs.md).
 *
 * Tombstones are compacted away once they outnumber live entries, so the list stays within
 * twice the live entries. The first live entry is the oldest undelivered update, which is what
 * the staleness limit looks at.
 *
 * Why a list with tombstones and not a Map with delete + set (move to end): V8 keeps the values
 * of deleted Map entries reachable until the table is rebuilt, so every superseded message was
 * promoted out of the young generation; that cost 7-17 ms GC pauses at 40k quotes/s (measured
 * with --trace-gc-nvp; see ARCHITECTURE.md, "GC and the hot path"). The index Map below is only
 * ever overwritten, never deleted from, while conflating.
 */
import { SubjectClass } from './subject-classes.ts'
import { encodeConflatedFrame, type RoutedMessage } from './wire.ts'
import { SHARED_FRAMES, SHARED_WRITE_BUFFERS, WriteBuffer } from './write-buffer.ts'

/** The parts of a subscription the outbox needs. */
export interface OutboxSubscription {
  /** Unique per subscription in this broker; part of the conflation key. */
  readonly uid: number
  readonly sid: string
  /** The sid encoded, shared by every subscription with the same sid (wire.ts encodeSid). */
  readonly sidBytes: Buffer
}

interface Held {
  readonly sub: OutboxSubscription | null
  /** Null once superseded (a tombstone), for a control line and for a run of events. */
  msg: RoutedMessage | null
  readonly control: Buffer | null
  /** Consecutive event and plain deliveries, already written (null for anything else). */
  readonly run: EventRun | null
  readonly skipped: number
  readonly bytes: number
  /** For a run, when its first message was published. */
  readonly enqueuedAtMs: number
}

/** Bytes one delivery takes: its MSG or HMSG line and its body. */
function deliveryBytes (sub: OutboxSubscription, msg: RoutedMessage, withHeaders: boolean): number {
  return msg.lineLength(sub.sidBytes.length, withHeaders) + msg.bodyLengthFor(withHeaders)
}

/** Writes one delivery into `buf` at `at` (room for deliveryBytes checked by the caller). */
function writeDelivery (
  buf: Buffer, at: number, sub: OutboxSubscription, msg: RoutedMessage, withHeaders: boolean
): void {
  msg.writeBody(buf, msg.writeLine(buf, at, sub.sidBytes, withHeaders), withHeaders)
}

/** The held events' chunks: the write buffers' pooled size (larger for a larger message). */
const HELD_CHUNK_BYTES = 64 * 1024

/** Consecutive event and plain deliveries held while conflating: one entry of the held list, a range of HeldEvents. */
class EventRun {
  firstChunk = 0
  firstAt = 0
  lastChunk = 0
  endAt = 0
  messages = 0
  /** Headers and payload bytes of its messages (out_bytes). */
  payloadBytes = 0
}

/**
 * The event and plain deliveries held while conflating, each written as flowing mode writes it
 * (MSG line and body) into one chain of pooled chunks that every run of the held list shares,
 * and copied into the next socket write, in order with what else was held, when the connection
 * stops conflating. A run of its own chunk cost a 64 KiB chunk per run: with a quote or a PONG
 * between single trades, a subscriber that stopped reading held a page of memory or more for
 * each 50-byte trade it was counted for (reports/broker/held-runs.md).
 */
class HeldEvents {
  private readonly chunks: Buffer[] = []
  /** Bytes written into each chunk. */
  private readonly used: number[] = []

  get chunkCount (): number {
    return this.chunks.length
  }

  /** Writes one delivery of `run`, the newest run; returns the bytes it took. */
  append (run: EventRun, sub: OutboxSubscription, msg: RoutedMessage, withHeaders: boolean): number {
    const n = deliveryBytes(sub, msg, withHeaders)
    let last = this.chunks.length - 1
    if (last < 0 || (this.used[last] as number) + n > (this.chunks[last] as Buffer).length) {
      this.chunks.push(SHARED_WRITE_BUFFERS.acquire(Math.max(HELD_CHUNK_BYTES, n)))
      this.used.push(0)
      last++
    }
    const at = this.used[last] as number
    if (run.messages === 0) {
      run.firstChunk = last
      run.firstAt = at
    }
    writeDelivery(this.chunks[last] as Buffer, at, sub, msg, withHeaders)
    this.used[last] = run.endAt = at + n
    run.lastChunk = last
    run.messages++
    run.payloadBytes += msg.bodyLengthFor(withHeaders) - 2
    return n
  }

  /** Copies `run`'s deliveries into `parts`, in order. */
  writeRun (run: EventRun, parts: WriteBuffer): void {
    for (let c = run.firstChunk; c <= run.lastChunk; c++) {
      const from = c === run.firstChunk ? run.firstAt : 0
      const to = c === run.lastChunk ? run.endAt : this.used[c] as number
      if (to > from) parts.bytes((this.chunks[c] as Buffer).subarray(from, to))
    }
  }

  /** Gives the chunks back to the pool (after every run was written, or unwritten when the connection closes). */
  release (): void {
    for (const chunk of this.chunks) SHARED_WRITE_BUFFERS.release(chunk)
    this.chunks.length = 0
    this.used.length = 0
  }
}

const COMPACT_MIN_TOMBSTONES = 64
/** About what one held entry (a control line, or a run) costs in memory besides its bytes (its objects and slot). */
const HELD_ENTRY_OVERHEAD_BYTES = 64
/**
 * What one held last value costs in memory besides its frame's bytes: its entry, its slot in the
 * list and its place in the index by subscription and subject (measured: 126-128 B an entry,
 * reports/broker/last-value-sprawl.md). The message itself is shared with the cache and the
 * other holders.
 */
export const HELD_LAST_VALUE_OVERHEAD_BYTES = 128

export interface OutboxOptions {
  /** Whether this client negotiated headers (HMSG, and the Tickfan-Conflated header). */
  headers: boolean
  /** Undelivered event/plain bytes allowed while conflating before overflow. */
  maxPendingEventBytes: number
  /**
   * Undelivered last-value bytes allowed while conflating (each entry counted with
   * HELD_LAST_VALUE_OVERHEAD_BYTES) before 'values-overflow'. There is one entry per
   * subscription and subject, so only subjects that keep sprawling reach it. Unlimited if absent.
   */
  maxPendingLastValueBytes?: number
}

/**
 * 'overflow': past the event limit; 'values-overflow': past the last-value limit. Either way the
 * connection is a slow consumer, to be closed.
 */
export type DeliverOutcome = 'queued' | 'conflated' | 'overflow' | 'values-overflow'

export class Outbox {
  headers: boolean
  private readonly maxPendingEventBytes: number
  private readonly maxPendingLastValueBytes: number

  /** The next socket write, in flowing mode. */
  private readonly parts = new WriteBuffer()
  private partsMessages = 0
  /** Whether a last value is among them: something conflating could still supersede (flowingHasLastValue). */
  private partsHaveLastValue = false
  /** Headers and payload bytes of the messages in `parts` (what nats-server counts as out_bytes). */
  private partsPayloadBytes = 0

  private held: Held[] | null = null
  /** Where the held runs' deliveries are written, while conflating. */
  private readonly heldEvents = new HeldEvents()
  /**
   * subscription uid -> subject -> its pending last-value entry, while conflating. Nested maps,
   * not a `uid subject` string key: no string is built per delivery on the conflation path.
   */
  private heldIndex: Map<number, Map<string, Held>> | null = null
  private heldTombstones = 0
  /** Runs among the held entries, and the messages in them. */
  private heldRuns = 0
  private heldRunMessages = 0
  /** Undelivered event and plain bytes held while conflating. */
  heldEventBytes = 0
  private heldLastValueBytes = 0
  private conflatingSinceMs = 0

  /** Messages superseded while conflating (each one a value the client never saw). */
  conflated = 0
  /** Messages taken for writing (after conflation). */
  messagesOut = 0
  /** Their headers and payloads in bytes, without the protocol around them. */
  payloadBytesOut = 0

  constructor (options: OutboxOptions) {
    this.headers = options.headers
    this.maxPendingEventBytes = options.maxPendingEventBytes
    this.maxPendingLastValueBytes = options.maxPendingLastValueBytes ?? Infinity
  }

  get conflating (): boolean {
    return this.held !== null
  }

  get conflatingSince (): number {
    return this.conflatingSinceMs
  }

  /** Bytes waiting in this outbox (not counting what the socket itself buffers). */
  get pendingBytes (): number {
    return this.parts.length + this.heldEventBytes + this.heldLastValueBytes
  }

  get pendingMessages (): number {
    if (this.held === null) return this.partsMessages
    return this.partsMessages + this.held.length - this.heldTombstones - this.heldRuns + this.heldRunMessages
  }

  /**
   * Publish time of the oldest undelivered message held while conflating. Control lines
   * (a server PING) are not updates and do not count: a socket that stays blocked is cut by
   * the blocked-time limit instead.
   */
  oldestPendingAtMs (): number | undefined {
    if (this.held === null) return undefined
    for (const entry of this.held) {
      if (entry.msg !== null) return entry.msg.publishedAtMs
      if (entry.run !== null) return entry.enqueuedAtMs
    }
    return undefined
  }

  deliver (sub: OutboxSubscription, msg: RoutedMessage): DeliverOutcome {
    const held = this.held
    if (held === null) {
      const withHeaders = this.headers
      const parts = this.parts
      if (msg.subjectClass === SubjectClass.LastValue) this.partsHaveLastValue = true
      if (msg.frame(sub, withHeaders)) {
        parts.shared(msg.frameSlab as Buffer, msg.frameStart, msg.frameEnd)
        this.partsPayloadBytes += msg.bodyLengthFor(withHeaders) - 2
        this.partsMessages++
        return 'queued'
      }
      this.queueDelivery(sub, msg, withHeaders)
      return 'queued'
    }
    if (msg.subjectClass === SubjectClass.LastValue) {
      const kept = msg.retain() // held past the publish call
      const bytes = kept.frameBytes + HELD_LAST_VALUE_OVERHEAD_BYTES
      const enqueuedAtMs = kept.publishedAtMs
      const index = this.heldIndex as Map<number, Map<string, Held>>
      let bySubject = index.get(sub.uid)
      if (bySubject === undefined) {
        bySubject = new Map()
        index.set(sub.uid, bySubject)
      }
      const previous = bySubject.get(kept.subject)
      let skipped = 0
      if (previous !== undefined && previous.msg !== null) {
        previous.msg = null // tombstone: drop the superseded message now
        this.heldTombstones++
        this.heldLastValueBytes -= previous.bytes
        skipped = previous.skipped + 1
        this.conflated++
      }
      const entry: Held = { sub, msg: kept, control: null, run: null, skipped, bytes, enqueuedAtMs }
      held.push(entry)
      bySubject.set(kept.subject, entry)
      this.heldLastValueBytes += bytes
      if (this.heldTombstones >= COMPACT_MIN_TOMBSTONES && this.heldTombstones * 2 > held.length) this.compact()
      if (this.heldLastValueBytes > this.maxPendingLastValueBytes) return 'values-overflow'
      return skipped === 0 ? 'queued' : 'conflated'
    }
    const run = this.runFor(held, msg) // counts a new run's entry first
    this.heldEventBytes += this.heldEvents.append(run, sub, msg, this.headers)
    this.heldRunMessages++
    return this.heldEventBytes > this.maxPendingEventBytes ? 'overflow' : 'queued'
  }

  /**
   * Protocol replies (PONG, +OK, -ERR, PING, INFO) keep their place in the stream. While
   * conflating they count against the event limit with what each held entry costs besides its
   * bytes, so a flood of PINGs from a client that does not read is cut off like any slow
   * consumer; returns 'overflow' then.
   */
  control (line: Buffer, nowMs = this.conflatingSinceMs): 'queued' | 'overflow' {
    if (this.held === null) {
      if (!this.parts.sharedLine(line, SHARED_FRAMES)) this.parts.bytes(line)
      return 'queued'
    }
    this.heldEventBytes += line.length + HELD_ENTRY_OVERHEAD_BYTES
    this.held.push({
      sub: null,
      msg: null,
      control: line,
      run: null,
      skipped: 0,
      bytes: line.length + HELD_ENTRY_OVERHEAD_BYTES,
      enqueuedAtMs: nowMs
    })
    return this.heldEventBytes > this.maxPendingEventBytes ? 'overflow' : 'queued'
  }

  /** The socket is past its high-water mark: hold and conflate until it drains. */
  startConflating (nowMs: number): void {
    if (this.held !== null) return
    this.held = []
    this.heldIndex = new Map()
    this.heldTombstones = 0
    this.conflatingSinceMs = nowMs
    // Anything appended since the last take keeps its place ahead of the held entries.
  }

  private compact (): void {
    const held = this.held as Held[]
    let w = 0
    for (let r = 0; r < held.length; r++) {
      const entry = held[r] as Held
      if (entry.msg !== null || entry.control !== null || entry.run !== null) held[w++] = entry
    }
    held.length = w
    this.heldTombstones = 0
  }

  /** One delivery, written into the next socket write: its MSG or HMSG line, then the body. */
  private queueDelivery (sub: OutboxSubscription, msg: RoutedMessage, withHeaders: boolean): void {
    const parts = this.parts
    const n = deliveryBytes(sub, msg, withHeaders)
    writeDelivery(parts.reserve(n), parts.offset, sub, msg, withHeaders)
    parts.advance(n)
    this.partsPayloadBytes += msg.bodyLengthFor(withHeaders) - 2
    this.partsMessages++
  }

  /** The socket drained: the held values become ordinary pending bytes for the next flush. */
  stopConflating (): void {
    const held = this.held
    if (held === null) return
    this.held = null
    this.heldIndex = null
    this.heldTombstones = 0
    const withHeaders = this.headers
    for (const entry of held) {
      if (entry.control !== null) {
        this.parts.bytes(entry.control)
        continue
      }
      const run = entry.run
      if (run !== null) {
        this.heldEvents.writeRun(run, this.parts)
        this.partsPayloadBytes += run.payloadBytes
        this.partsMessages += run.messages
        continue
      }
      const { sub, msg, skipped } = entry
      if (msg === null || sub === null) continue
      this.partsHaveLastValue = true
      if (skipped === 0 || !withHeaders) {
        this.queueDelivery(sub, msg, withHeaders)
        continue
      }
      this.parts.bytes(encodeConflatedFrame(msg, sub.sidBytes, skipped))
      this.partsPayloadBytes += msg.bodyLength - 2
      this.partsMessages++
    }
    this.heldEvents.release()
    this.heldEventBytes = 0
    this.heldLastValueBytes = 0
    this.heldRuns = 0
    this.heldRunMessages = 0
  }

  /** The run the next event delivery goes into: the last held entry if it is one, else a new one. */
  private runFor (held: Held[], msg: RoutedMessage): EventRun {
    const tail = held[held.length - 1]
    if (tail !== undefined && tail.run !== null) return tail.run
    const run = new EventRun()
    this.heldEventBytes += HELD_ENTRY_OVERHEAD_BYTES
    held.push({ sub: null, msg: null, control: null, run, skipped: 0, bytes: 0, enqueuedAtMs: msg.publishedAtMs })
    this.heldRuns++
    return run
  }

  /** Everything flowing, as one Buffer for one socket write; null when there is nothing. */
  take (mayShare = false): Buffer | null {
    const chunk = this.parts.take(mayShare)
    if (chunk === null) return null
    this.messagesOut += this.partsMessages
    this.payloadBytesOut += this.partsPayloadBytes
    this.partsMessages = 0
    this.partsPayloadBytes = 0
    this.partsHaveLastValue = false
    return chunk
  }

  /**
   * Whether a last value was appended since the last take (flowing mode). Without one,
   * conflating would supersede nothing: what is held and what is written keep their order
   * either way, and holding events only delays them (flow-control.ts).
   */
  get flowingHasLastValue (): boolean {
    return this.partsHaveLastValue
  }

  /** Bytes appended since the last take (flowing mode). */
  get flowingBytes (): number {
    return this.parts.length
  }

  /** Drops everything (the connection is closing). */
  clear (): void {
    this.parts.clear()
    this.partsMessages = 0
    this.partsPayloadBytes = 0
    this.heldEvents.release()
    this.held = null
    this.heldIndex = null
    this.heldTombstones = 0
    this.heldEventBytes = 0
    this.heldLastValueBytes = 0
    this.heldRuns = 0
    this.heldRunMessages = 0
  }
}
