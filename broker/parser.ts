/**
 * The NATS client-protocol parser: bytes in, operations out. Pure (no sockets, no timers), so
 * it is tested by feeding byte streams split at every offset.
 *
 * Control lines end in LF (a preceding CR is optional, as nats-server accepts); a message
 * payload must be followed by exactly CRLF. A payload handed to `pub` / `hpub` is a view into
 * the input and valid only during the call: the broker copies what it keeps.
 *
 * After a fatal error the parser ignores all further input: the connection is closing.
 */
import type { ProtocolErrorCode } from './errors.ts'
import { SHARED_SUBJECTS, type SubjectInterner } from './subject-intern.ts'
import { latin1Slice } from './wire.ts'

export interface ProtocolHandler {
  connect (json: string): void
  /**
   * `subjectKey`: the subject's slot in the parser's interner (SubjectInterner.lastSlot), or -1:
   * a small integer the handler may cache what it knows of the subject by, comparing the subject
   * too (another subject may take the slot over).
   */
  pub (subject: string, reply: string | undefined, payload: Buffer, subjectKey: number): void
  /** `data` holds the header block (`headerBytes` long) followed by the payload. */
  hpub (subject: string, reply: string | undefined, headerBytes: number, data: Buffer, subjectKey: number): void
  sub (subject: string, queue: string | undefined, sid: string): void
  unsub (sid: string, max: number | undefined): void
  ping (): void
  pong (): void
  error (code: ProtocolErrorCode): void
  /**
   * The parser used its share of this turn (OPS_PER_BUDGET operations or TIME_BUDGET_MS) with
   * input left: it has paused itself, holding the rest, until `resume()` (input-pacing.ts).
   */
  opsSpent (): void
}

export interface ParserLimits {
  maxControlLineBytes: number
  maxPayloadBytes: number
  /**
   * The largest chunk the transport hands over at once, where that is more than a read: a
   * WebSocket message, held whole by the library until it ends, may be many commands.
   */
  maxChunkBytes?: number
}

const LF = 10
const CR = 13
const SPLIT = /[ \t]+/

const enum State { Control, Payload, Dead }

/**
 * The parser's share of a turn: within one chunk of input it pauses itself for the handler
 * (`opsSpent`) after OPS_PER_BUDGET operations (control lines and messages), or once it has run
 * TIME_BUDGET_MS (checked every OPS_PER_CLOCK_CHECK operations), with input left. One 64 KiB
 * read holds up to 5,000 SUB/UNSUB lines, which code not yet optimised took 60 ms to handle while every other
 * connection waited; the time bound keeps a turn short whatever the code's state.
 */
export const OPS_PER_BUDGET = 1024
export const TIME_BUDGET_MS = 2
const OPS_PER_CLOCK_CHECK = 64

/**
 * Bytes held while paused, past the largest command or chunk, at which the client is cut off: it
 * may not flood before it is known.
 */
const MAX_HELD_EXTRA = 64 * 1024

export class ProtocolParser {
  private state = State.Control
  /** Bytes of an unfinished control line carried over from the previous chunk. */
  private partialLine: Buffer | null = null
  /**
   * The pending message while its payload spans chunks, copied into one buffer of the size the
   * control line gave (payload and CRLF). Its pages become resident only as bytes arrive, so a
   * dripped payload costs what was received (a Buffer kept per chunk cost hundreds of bytes per
   * byte dripped); when whole, it becomes the message's body without a copy (wire.ts).
   */
  private pendingBuffer: Buffer | null = null
  private pendingHave = 0
  private pendingNeed = 0
  private pendingSubject = ''
  private pendingSubjectKey = -1
  private pendingReply: string | undefined = undefined
  private pendingHeaderBytes = -1
  /** While paused (authentication in progress), input is held here in order. */
  private paused = false
  private held: Buffer[] = []
  private heldBytes = 0
  private readonly maxHeldBytes: number
  /** Token bounds of the control line being read (start, end pairs), reused. */
  private readonly tokens = new Int32Array(8)
  /** Operations handed out in the current feed(), and when it began (clock ms). */
  private ops = 0
  private feedStartedAt = 0

  constructor (
    private readonly handler: ProtocolHandler,
    private readonly limits: ParserLimits,
    /** A monotonic clock in ms (injected by tests). */
    private readonly clock: () => number = performance.now.bind(performance),
    /** Where PUB subjects become strings: the same string for the same bytes (subject-intern.ts). */
    private readonly subjects: SubjectInterner = SHARED_SUBJECTS
  ) {
    const largestCommand = limits.maxPayloadBytes + limits.maxControlLineBytes
    this.maxHeldBytes = Math.max(largestCommand, limits.maxChunkBytes ?? 0) + MAX_HELD_EXTRA
  }

  get dead (): boolean {
    return this.state === State.Dead
  }

  /** Stops handing out operations after the current one; input is held until `resume()`. */
  pause (): void {
    this.paused = true
  }

  resume (): void {
    if (!this.paused) return
    this.paused = false
    const held = this.held
    this.held = []
    this.heldBytes = 0
    if (held.length > 0) this.feed(held.length === 1 ? held[0] as Buffer : Buffer.concat(held))
  }

  feed (chunk: Buffer): void {
    let buf = chunk
    let pos = 0
    if (this.state === State.Dead) return
    if (this.paused) {
      this.held.push(chunk)
      this.heldBytes += chunk.length
      if (this.heldBytes > this.maxHeldBytes) this.fail('MAX_PAYLOAD')
      return
    }
    if (this.state === State.Payload) {
      const want = this.pendingNeed - this.pendingHave
      if (chunk.length < want) {
        this.appendPending(chunk)
        return
      }
      this.appendPending(chunk.subarray(0, want))
      const whole = this.pendingBuffer as Buffer
      this.pendingBuffer = null
      this.state = State.Control
      if (!this.deliverMessage(
        whole,
        0,
        this.pendingSubject,
        this.pendingSubjectKey,
        this.pendingReply,
        this.pendingHeaderBytes,
        this.pendingNeed - 2
      )) return
      pos = want
    }
    if (this.partialLine !== null) {
      buf = Buffer.concat([this.partialLine, chunk.subarray(pos)])
      this.partialLine = null
      pos = 0
    }
    this.feedStartedAt = this.clock()
    this.ops = 0
    // The chunk's bytes read four at a time where a PUB line is scanned (one view per chunk).
    const words = new DataView(buf.buffer, buf.byteOffset, buf.length)
    while (pos < buf.length) {
      // A PUB or HPUB is read in one pass, its line end found on the way; anything else (or a
      // PUB the fast path does not take) is cut at its line end and read by the general path.
      let next = this.publishLine(buf, words, pos)
      if (next === NOT_FAST) {
        const lf = lineEnd(buf, pos, this.limits.maxControlLineBytes)
        if (lf === -1) {
          if (buf.length - pos > this.limits.maxControlLineBytes) { this.fail('MAX_CONTROL_LINE'); return }
          this.partialLine = Buffer.from(buf.subarray(pos))
          return
        }
        if (lf - pos > this.limits.maxControlLineBytes) { this.fail('MAX_CONTROL_LINE'); return }
        const end = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf
        next = this.controlLine(buf, pos, end, lf + 1)
      }
      if (next < 0) return
      pos = next
      if (!this.paused && this.budgetSpent(++this.ops) && pos < buf.length && this.state === State.Control) {
        this.paused = true
        this.feed(Buffer.from(buf.subarray(pos)))
        this.handler.opsSpent()
        return
      }
      if (this.paused) {
        if (pos < buf.length) this.feed(Buffer.from(buf.subarray(pos))) // held, in order, for resume()
        return
      }
    }
  }

  /** Whether `ops` operations (since the last pause) spend this turn's share. */
  private budgetSpent (ops: number): boolean {
    if (ops >= OPS_PER_BUDGET) return true
    if (ops % OPS_PER_CLOCK_CHECK !== 0) return false
    return this.clock() - this.feedStartedAt >= TIME_BUDGET_MS
  }

  /** Handles one control line; returns where parsing continues, or -1 to stop. */
  private controlLine (buf: Buffer, start: number, end: number, after: number): number {
    if (end === start) return after // an empty line is ignored, as nats-server does
    const line = buf.toString('latin1', start, end)
    const space = line.search(SPLIT)
    const op = (space === -1 ? line : line.slice(0, space)).toUpperCase()
    const rest = space === -1 ? '' : line.slice(space).trim()
    switch (op) {
      case 'PUB': return this.startMessage(buf, after, rest, false)
      case 'HPUB': return this.startMessage(buf, after, rest, true)
      case 'SUB': {
        const args = rest === '' ? [] : rest.split(SPLIT)
        if (args.length === 2) this.handler.sub(args[0] as string, undefined, args[1] as string)
        else if (args.length === 3) this.handler.sub(args[0] as string, args[1], args[2] as string)
        else return this.fail('UNKNOWN_OPERATION')
        return this.state === State.Dead ? -1 : after
      }
      case 'UNSUB': {
        const args = rest === '' ? [] : rest.split(SPLIT)
        if (args.length === 1) this.handler.unsub(args[0] as string, undefined)
        else if (args.length === 2) {
          const max = parseSize(args[1] as string)
          if (max < 0) return this.fail('UNKNOWN_OPERATION')
          this.handler.unsub(args[0] as string, max)
        } else return this.fail('UNKNOWN_OPERATION')
        return this.state === State.Dead ? -1 : after
      }
      case 'PING': this.handler.ping(); return this.state === State.Dead ? -1 : after
      case 'PONG': this.handler.pong(); return after
      case 'CONNECT': {
        // Decode as UTF-8: names and passwords in CONNECT may be non-ASCII.
        const json = buf.toString('utf8', start + space, end).trim()
        if (space === -1 || json === '') return this.fail('BAD_CONNECT')
        this.handler.connect(json)
        return this.state === State.Dead ? -1 : after
      }
      case '+OK': return after
      case '-ERR': return after
      default: return this.fail('UNKNOWN_OPERATION')
    }
  }

  /**
   * PUB and HPUB read straight from the bytes in one pass, finding the line's end on the way: no
   * string but the subject and the reply, no regular expression, no array, no second scan.
   * Anything unusual (another operation, a token count or size the fast path does not take, a
   * line that goes on past this chunk or past the control-line limit, a CR not before the LF)
   * returns NOT_FAST, and the general path handles it with its errors.
   */
  private publishLine (buf: Buffer, words: DataView, start: number): number {
    const len = buf.length
    if (len - start < 6) return NOT_FAST
    const b0 = (buf[start] as number) | 0x20
    let at: number
    let withHeaders: boolean
    if (b0 === 0x70 && ((buf[start + 1] as number) | 0x20) === 0x75 &&
      ((buf[start + 2] as number) | 0x20) === 0x62 && isBlank(buf[start + 3] as number)) {
      at = start + 4
      withHeaders = false
    } else if (b0 === 0x68 && ((buf[start + 1] as number) | 0x20) === 0x70 &&
      ((buf[start + 2] as number) | 0x20) === 0x75 && ((buf[start + 3] as number) | 0x20) === 0x62 &&
      isBlank(buf[start + 4] as number)) {
      at = start + 5
      withHeaders = true
    } else {
      return NOT_FAST
    }
    const stop = Math.min(len, start + this.limits.maxControlLineBytes + 1)
    const t = this.tokens
    let count = 0
    let lf = -1
    while (at < stop) {
      const c = buf[at] as number
      if (c === 32 || c === 9) { at++; continue }
      if (c === LF) { lf = at; break }
      if (c === CR) {
        if (at + 1 < stop && buf[at + 1] === LF) lf = at + 1
        break
      }
      if (count === 4) return NOT_FAST
      t[2 * count] = at
      at++
      // Four bytes at a time while none is below 0x21 (a space, tab, CR, LF or other control
      // byte), then byte by byte from the word that holds one.
      while (at + 4 <= stop && !hasByteBelow0x21(words.getInt32(at, true))) at += 4
      while (at < stop) {
        const d = buf[at] as number
        if (d === 32 || d === 9 || d === LF || d === CR) break
        at++
      }
      t[2 * count + 1] = at
      count++
    }
    if (lf === -1) return NOT_FAST
    const sizes = withHeaders ? 2 : 1
    if (count !== sizes + 1 && count !== sizes + 2) return NOT_FAST
    const total = sizeAt(buf, t[2 * (count - 1)] as number, t[2 * (count - 1) + 1] as number)
    const headerBytes = withHeaders ? sizeAt(buf, t[2 * (count - 2)] as number, t[2 * (count - 2) + 1] as number) : -1
    if (total < 0 || (withHeaders && (headerBytes < 0 || headerBytes > total))) return NOT_FAST
    const subject = this.subjects.intern(buf, words, t[0] as number, t[1] as number)
    const subjectKey = this.subjects.lastSlot
    const reply = count === sizes + 2 ? latin1Slice(buf, t[2] as number, t[3] as number) : undefined
    return this.message(buf, lf + 1, subject, subjectKey, reply, total, headerBytes)
  }

  private startMessage (buf: Buffer, after: number, rest: string, withHeaders: boolean): number {
    const args = rest === '' ? [] : rest.split(SPLIT)
    const minArgs = withHeaders ? 3 : 2
    if (args.length !== minArgs && args.length !== minArgs + 1) return this.fail('UNKNOWN_OPERATION')
    const subject = args[0] as string
    const reply = args.length === minArgs + 1 ? args[1] : undefined
    const total = parseSize(args[args.length - 1] as string)
    if (total < 0) return this.fail('BAD_SIZE')
    let headerBytes = -1
    if (withHeaders) {
      headerBytes = parseSize(args[args.length - 2] as string)
      if (headerBytes < 0 || headerBytes > total) return this.fail('BAD_HEADER_SIZE')
    }
    return this.message(buf, after, subject, -1, reply, total, headerBytes)
  }

  /** A PUB or HPUB whose control line was valid: its payload follows at `after`. */
  private message (
    buf: Buffer,
    after: number,
    subject: string,
    subjectKey: number,
    reply: string | undefined,
    total: number,
    headerBytes: number
  ): number {
    if (total > this.limits.maxPayloadBytes) return this.fail('MAX_PAYLOAD')
    const need = total + 2
    if (buf.length - after >= need) {
      return this.deliverMessage(buf, after, subject, subjectKey, reply, headerBytes, total) ? after + need : -1
    }
    this.state = State.Payload
    this.pendingSubject = subject
    this.pendingSubjectKey = subjectKey
    this.pendingReply = reply
    this.pendingHeaderBytes = headerBytes
    this.pendingNeed = need
    this.pendingBuffer = Buffer.allocUnsafe(need)
    this.pendingHave = 0
    this.appendPending(buf.subarray(after))
    return buf.length
  }

  /** Copies part of a spanning payload in. */
  private appendPending (part: Buffer): void {
    part.copy(this.pendingBuffer as Buffer, this.pendingHave)
    this.pendingHave += part.length
  }

  private deliverMessage (
    buf: Buffer,
    at: number,
    subject: string,
    subjectKey: number,
    reply: string | undefined,
    headerBytes: number,
    total: number
  ): boolean {
    if (buf[at + total] !== CR || buf[at + total + 1] !== LF) {
      this.fail('UNKNOWN_OPERATION')
      return false
    }
    const data = buf.subarray(at, at + total)
    if (headerBytes < 0) this.handler.pub(subject, reply, data, subjectKey)
    else this.handler.hpub(subject, reply, headerBytes, data, subjectKey)
    return this.state !== State.Dead
  }

  /** Called by the owner when it closes the connection for a reason found outside the parser. */
  stop (): void {
    this.state = State.Dead
    this.partialLine = null
    this.pendingBuffer = null
    this.held = []
    this.paused = false
  }

  private fail (code: ProtocolErrorCode): -1 {
    this.stop()
    this.handler.error(code)
    return -1
  }
}

/**
 * Where the control line at `pos` ends (its LF), or -1 when no LF is within the first
 * `maxLineBytes` + 1 bytes (a line too long, or one that goes on in the next chunk). A loop, not
 * Buffer#indexOf: a native call per line cost more than scanning a line of a few dozen bytes,
 * and the window bounds the scan of input that has no line end.
 */
function lineEnd (buf: Buffer, pos: number, maxLineBytes: number): number {
  const stop = Math.min(buf.length, pos + maxLineBytes + 1)
  for (let i = pos; i < stop; i++) {
    if (buf[i] === LF) return i
  }
  return -1
}

/** What publishLine returns when the general path must handle the line. */
const NOT_FAST = -2

/**
 * Whether any of the four bytes in `x` is below 0x21 (SWAR: a byte below it borrows into its own
 * top bit where it had none). Never misses one; a byte at or above 0x80 never counts, a byte just
 * after one that does may: the caller then reads byte by byte, which decides.
 */
export function hasByteBelow0x21 (x: number): boolean {
  return ((x - 0x21212121) & ~x & 0x80808080) !== 0
}

function isBlank (c: number): boolean {
  return c === 32 || c === 9
}

/** A size read from bytes: digits only, at most 10, within 2^31-1; -1 otherwise (parseSize over bytes). */
function sizeAt (buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 10) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n > 0x7fffffff ? -1 : n
}

/** A non-negative decimal integer, or -1. Sizes over 2^31 are rejected rather than rounded. */
export function parseSize (text: string): number {
  // Digits are ASCII: any other character makes the byte length differ, and the size invalid.
  return Buffer.byteLength(text) === text.length ? sizeAt(Buffer.from(text, 'latin1'), 0, text.length) : -1
}
