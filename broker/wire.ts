/**
 * Encoding of what the broker sends: INFO, MSG / HMSG frames and header blocks.
 *
 * A published message is encoded once into a `RoutedMessage`: its body (headers + payload +
 * CRLF), copied out of the read buffer only when something keeps the message. A delivery writes
 * its MSG line byte by byte straight into the connection's next socket write (write-buffer.ts)
 * and copies the body after it: no allocation per delivery. The only per-subscriber bytes are
 * its sid, encoded once when it subscribes; where subscribers of a fan-out to three or more
 * share a sid, one frame (line and body) is built for them.
 */
import { CONFLATED_HEADER, HEADER_PREAMBLE } from '../lib/headers.ts'
import { SubjectClass } from './subject-classes.ts'
import { copyBytes, decimalDigits, letGo, SHARED_FRAMES, writeDecimal, writeLatin1, type FrameArena, type SlabState } from './write-buffer.ts'

const CRLF = Buffer.from('\r\n')

type Latin1Buffer = Buffer & { latin1Slice: (start: number, end: number) => string }
const nativeLatin1 = Buffer.prototype as Partial<Latin1Buffer>

/**
 * Buffer.prototype.latin1Slice, where `toString('latin1', …)` ends after checking its arguments
 * and looking the encoding up; on the publish path, once per message. Not in the typings, so
 * checked once here, with the public method as the fallback (write-buffer.ts has its writing twin).
 */
export const latin1Slice: (buf: Buffer, start: number, end: number) => string =
  typeof nativeLatin1.latin1Slice === 'function'
    ? (buf, start, end) => (buf as Latin1Buffer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end)

/** Messages whose body is larger get no shared frame (RoutedMessage.frame). */
const FRAME_MAX_BYTES = 16 * 1024

/**
 * A fan-out to fewer subscribers gets no shared frame unless all of them share one sid (the
 * router's `oneSid`: then each turn of frames may be written as a view of the arena, copied
 * nowhere, reports/broker/zero-copy-frames.md). Otherwise the frame costs a copy of the body into
 * the arena, and each sharer a copy out of it at flush, where its own line and body cost one
 * copy; over sockets the lines it spares pay for that from three sharers on (without sockets,
 * from about four; `reports/broker/frame-share-min.md`).
 */
export const FRAME_SHARE_MIN_FANOUT = 3

/** Payloads at least this large that the parser assembled are kept as they are, not copied. */
const ADOPT_MIN_BYTES = 64 * 1024

/**
 * Whether `data` is a payload the parser assembled from several reads in a buffer of its own
 * (parser.ts, the pending message): that buffer holds exactly the payload and its CRLF, and
 * nothing else keeps it, so it can become the message's body without a copy. A large message
 * otherwise cost two buffers of its size until the copy's source was collected.
 */
function isAssembledPayload (data: Buffer): boolean {
  if (data.length < ADOPT_MIN_BYTES || data.byteOffset !== 0 || data.buffer.byteLength !== data.length + 2) return false
  const whole = new Uint8Array(data.buffer)
  return whole[data.length] === 13 && whole[data.length + 1] === 10
}

/** Bytes a reply subject adds to a MSG line (its space and itself). */
function replyLength (reply: string | undefined): number {
  return reply === undefined ? 0 : reply.length + 1
}

export class RoutedMessage {
  // Set by reuse(), from the constructor and, for the router's reusable message, by the router; read-only to the rest.
  subject = ''
  /**
   * The subject's latin1 bytes, when the router has them (its subject facts keep them): a
   * delivery's line copies them in one `set`, about 25 ns whatever their length, where writing
   * the string a character at a time cost about 2 ns a character and the native write about 70 ns
   * (reports/broker/subject-bytes.md). Null: the line writes the string.
   */
  subjectBytes: Buffer | null = null
  reply: string | undefined = undefined
  subjectClass: SubjectClass = SubjectClass.Plain
  /** Header block length; 0 when the message has no headers. */
  headerBytes = 0
  /** Header block + payload + CRLF, in bytes. */
  bodyLength = 0
  /** Broker clock (ms) when the message was published: the age of pending copies. */
  publishedAtMs = 0
  /** The publisher's sequence for last-value ordering, when it sent one. */
  sequence: number | undefined = undefined
  /**
   * The publishing connection's id here (response grants count per requester); below 0 when it
   * came from a link: -1, or router.ts publisherOfWorker for another worker of this broker.
   */
  publisherCid = -1
  /**
   * The published header block and payload as the reader handed them over (a view into the
   * read buffer), while no copy was needed: a message delivered only to subscribers that keep
   * up is copied once, into their socket writes. Dropped when its fan-out ends (dropFrame).
   */
  private input: Buffer | null = null
  /** Its body in a buffer of its own, once something keeps it (see keep()). */
  private stored: Buffer | null = null
  /** The last sid a frame was asked for, whether with headers, and that frame once built (see frame()). */
  private frameSid: Buffer | null = null
  private frameWithHeaders = false
  /** The frame's slab in the arena (null until built), and where it starts and ends there. */
  frameSlab: Buffer | null = null
  /** Its hold on frameSlab, so the arena never writes over the frame while it may be asked for. */
  private frameHold: SlabState | null = null
  frameStart = 0
  frameEnd = 0
  /**
   * Its place in the last-value cache's order of stores (0 when it was never cached): a snapshot
   * delivers a cached value only if it was stored before the subscription began.
   */
  cacheOrder = 0
  /** Bytes of its MSG and HMSG lines without the sid, once counted (-1 before). */
  private msgLineFixed = -1
  private hmsgLineFixed = -1
  /** Whether the router routes every publish as this object (reuse()), and the copy retain() made of this publish. */
  private readonly isReusable: boolean
  private retained: RoutedMessage | null = null
  /**
   * Whether its deliveries may share a frame: set by the router from the fan-out's size (at least
   * FRAME_SHARE_MIN_FANOUT); true for a message routed any other way.
   */
  shareFrames = true
  /** Whether every delivery asks for one sid, so the first asker builds the frame too (set by the router). */
  shareFirst = false
  /** Whether it has been made a publish yet (the constructor does it, through reuse()). */
  private published = false

  constructor (
    subject: string,
    reply: string | undefined,
    subjectClass: SubjectClass,
    data: Buffer,
    headerBytes: number,
    publishedAtMs: number,
    sequence: number | undefined,
    publisherCid = -1,
    isReusable = false
  ) {
    this.isReusable = isReusable
    this.reuse(subject, reply, subjectClass, data, headerBytes, publishedAtMs, sequence, publisherCid)
  }

  /** The one message a router routes every plain and event publish as: no object per publish. */
  static reusable (): RoutedMessage {
    return new RoutedMessage('', undefined, SubjectClass.Plain, Buffer.alloc(0), 0, 0, undefined, -1, true)
  }

  /**
   * This message, made the next publish (same arguments as the constructor, which makes the
   * first one so). Only the router's reusable message is made another; whoever holds it past the
   * publish call takes retain()'s copy instead, so nothing sees it change.
   */
  reuse (
    subject: string,
    reply: string | undefined,
    subjectClass: SubjectClass,
    data: Buffer,
    headerBytes: number,
    publishedAtMs: number,
    sequence: number | undefined,
    publisherCid: number
  ): this {
    if (this.published && !this.isReusable) throw new Error('tickfan: reuse() of a message that is not the router\'s reusable one')
    this.published = true
    this.subject = subject
    this.subjectBytes = null
    this.reply = reply
    this.subjectClass = subjectClass
    this.headerBytes = headerBytes > 0 ? headerBytes : 0
    this.bodyLength = data.length + 2
    this.publishedAtMs = publishedAtMs
    this.sequence = sequence
    this.publisherCid = publisherCid
    if (isAssembledPayload(data)) {
      this.stored = Buffer.from(data.buffer, 0, data.length + 2)
      this.input = null
    } else {
      this.stored = null
      this.input = data
    }
    this.frameSid = null
    this.frameWithHeaders = false
    this.forgetFrame()
    this.shareFrames = true
    this.shareFirst = false
    this.cacheOrder = 0
    this.msgLineFixed = -1
    this.hmsgLineFixed = -1
    this.retained = null
    return this
  }

  /**
   * The message to hold past the publish call (the last-value cache, a conflating outbox's last values): this
   * one with its body copied out of the read buffer (keep()), or, for the reusable message, a
   * copy of this publish made once and shared by every holder.
   */
  retain (): RoutedMessage {
    const body = this.keep()
    if (!this.isReusable) return this
    if (this.retained === null) {
      const copy = new RoutedMessage(this.subject, this.reply, this.subjectClass, body.subarray(0, body.length - 2),
        this.headerBytes, this.publishedAtMs, this.sequence, this.publisherCid)
      copy.stored = body
      copy.input = null
      copy.subjectBytes = this.subjectBytes
      this.retained = copy
    }
    return this.retained
  }

  /** Header block + payload + CRLF, in a buffer of its own (copied out of the read buffer, once). */
  get body (): Buffer {
    return this.stored ?? this.keep()
  }

  /**
   * Header block + payload, without the CRLF: a view of the read buffer during the fan-out, or of
   * the kept body. For one who copies it at once (the history); keep() is for one who holds it.
   */
  get content (): Buffer {
    const data = this.stored === null ? this.input : this.stored.subarray(0, this.stored.length - 2)
    if (data === null) throw new Error(`tickfan: the body of a message on ${this.subject} was asked for after its fan-out ended, and nothing kept it`)
    return data
  }

  /**
   * Copies the body out of the read buffer for whoever keeps the message past its publish call
   * (the last-value cache, a conflating outbox's last values); returns it.
   */
  keep (): Buffer {
    if (this.stored !== null) return this.stored
    const data = this.input
    if (data === null) throw new Error(`tickfan: the body of a message on ${this.subject} was asked for after its fan-out ended, and nothing kept it`)
    const body = Buffer.allocUnsafe(data.length + 2)
    body.set(data, 0)
    body[data.length] = 13
    body[data.length + 1] = 10
    this.stored = body
    this.input = null
    return body
  }

  /** Bytes of the body one delivery carries: without the header block for a client without headers. */
  bodyLengthFor (withHeaders: boolean): number {
    return withHeaders ? this.bodyLength : this.bodyLength - this.headerBytes
  }

  /** Copies the body of one delivery (see bodyLengthFor) into `buf` at `at`, room checked by the caller. */
  writeBody (buf: Buffer, at: number, withHeaders: boolean): void {
    const from = withHeaders ? 0 : this.headerBytes
    const stored = this.stored
    if (stored !== null) {
      copyBytes(buf, at, stored, from)
      return
    }
    const input = this.input as Buffer
    const end = copyBytes(buf, at, input, from)
    buf[end] = 13
    buf[end + 1] = 10
  }

  get payloadBytes (): number {
    return this.bodyLength - 2 - this.headerBytes
  }

  /** Bytes one delivery puts on the wire (approximately: the sid is not counted). */
  get frameBytes (): number {
    return this.bodyLength + this.subject.length + 24 + (this.reply?.length ?? 0)
  }

  /**
   * Bytes of the control line of one delivery to a sid of `sidBytes` bytes:
   * `MSG <subject> <sid>[ reply] <size>\r\n`, or HMSG with the header size when `withHeaders`
   * and the message has headers.
   */
  lineLength (sidBytes: number, withHeaders: boolean): number {
    if (withHeaders && this.headerBytes > 0) {
      if (this.hmsgLineFixed < 0) {
        this.hmsgLineFixed = 'HMSG  '.length + this.subject.length + replyLength(this.reply) +
          1 + decimalDigits(this.headerBytes) + 1 + decimalDigits(this.bodyLength - 2) + 2
      }
      return this.hmsgLineFixed + sidBytes
    }
    if (this.msgLineFixed < 0) {
      this.msgLineFixed = 'MSG  '.length + this.subject.length + replyLength(this.reply) + 1 + decimalDigits(this.payloadBytes) + 2
    }
    return this.msgLineFixed + sidBytes
  }

  /**
   * Writes that line into `buf` at `at` (room for lineLength() checked by the caller), byte by
   * byte: no string is made for it. Returns where it ends.
   */
  writeLine (buf: Buffer, at: number, sid: Buffer, withHeaders: boolean): number {
    const headers = withHeaders && this.headerBytes > 0
    if (headers) buf[at++] = 72 // H
    buf[at] = 77 // MSG and a space
    buf[at + 1] = 83
    buf[at + 2] = 71
    buf[at + 3] = 32
    const subjectBytes = this.subjectBytes
    if (subjectBytes === null) at = writeLatin1(buf, at + 4, this.subject)
    else {
      buf.set(subjectBytes, at + 4)
      at += 4 + subjectBytes.length
    }
    buf[at++] = 32
    for (let i = 0; i < sid.length; i++) buf[at++] = sid[i] as number
    if (this.reply !== undefined) {
      buf[at++] = 32
      at = writeLatin1(buf, at, this.reply)
    }
    buf[at++] = 32
    if (headers) {
      at = writeDecimal(buf, at, this.headerBytes)
      buf[at++] = 32
      at = writeDecimal(buf, at, this.bodyLength - 2)
    } else {
      at = writeDecimal(buf, at, this.payloadBytes)
    }
    buf[at] = 13
    buf[at + 1] = 10
    return at + 2
  }

  /**
   * Whether the whole frame of a delivery to `sub` (its MSG or HMSG line and body) is at
   * frameSlab from frameStart to frameEnd, for the next write to share: when the delivery before
   * it asked for the same sid, the frame is written into the arena once (on this second ask) and
   * shared by each further delivery instead of a line and body written for each. The first asker
   * gets false (and writes the line), so a frame is built only for a sid two subscribers share;
   * not for messages over FRAME_MAX_BYTES, where the copy is what costs, nor for a fan-out too
   * small to gain from it (shareFrames).
   */
  frame (sub: { readonly sidBytes: Buffer }, withHeaders: boolean, arena: FrameArena = SHARED_FRAMES): boolean {
    if (this.bodyLength > FRAME_MAX_BYTES || !this.shareFrames) return false
    const headers = withHeaders && this.headerBytes > 0
    if (sub.sidBytes === this.frameSid && headers === this.frameWithHeaders) {
      if (this.frameSlab === null) this.buildFrame(sub.sidBytes, headers, arena)
      return true
    }
    this.frameSid = sub.sidBytes
    this.frameWithHeaders = headers
    this.forgetFrame()
    if (!this.shareFirst) return false
    this.buildFrame(sub.sidBytes, headers, arena)
    return true
  }

  /** The MSG (or HMSG) line, then the body, written into the arena. */
  private buildFrame (sid: Buffer, headers: boolean, arena: FrameArena): void {
    const lineBytes = this.lineLength(sid.length, headers)
    const bytes = lineBytes + this.bodyLengthFor(headers)
    const slab = arena.reserve(bytes)
    const at = arena.offset
    this.writeBody(slab, this.writeLine(slab, at, sid, headers), headers)
    arena.advance(bytes)
    this.forgetFrame()
    this.frameHold = arena.holdCurrent()
    this.frameSlab = slab
    this.frameStart = at
    this.frameEnd = at + bytes
  }

  /** Forgets the frame (after a fan-out: a cached message should not keep the arena's slab). */
  dropFrame (): void {
    this.input = null // the read buffer is the reader's again
    this.frameSid = null
    this.forgetFrame()
  }

  /** No frame built: lets go of the one there was. */
  private forgetFrame (): void {
    if (this.frameHold !== null) letGo(this.frameHold)
    this.frameHold = null
    this.frameSlab = null
  }

  /** The header block as text (latin1), or '' when none. */
  headerText (): string {
    return this.headerBytes === 0 ? '' : this.body.toString('latin1', 0, this.headerBytes)
  }

  /** The payload alone (a view into the shared body). */
  payload (): Buffer {
    return this.body.subarray(this.headerBytes, this.body.length - 2)
  }
}

const SIDS = new Map<string, Buffer>()
const MAX_SIDS_SHARED = 4096

/**
 * The sid as it appears in MSG lines, encoded once per subscription and shared by every
 * subscription with the same sid (most clients number their subscriptions from 1), so a
 * message's frame can be reused by identity (RoutedMessage.frame).
 */
export function encodeSid (sid: string): Buffer {
  const known = SIDS.get(sid)
  if (known !== undefined) return known
  const bytes = Buffer.from(sid, 'latin1')
  if (SIDS.size < MAX_SIDS_SHARED) SIDS.set(sid, bytes)
  return bytes
}

/**
 * One delivery of a message that skipped `skipped` older values, for a client that negotiated
 * headers: HMSG with the original headers plus `Tickfan-Conflated: N`. This path is taken only
 * by conflated deliveries, so building a fresh frame here is fine.
 */
export function encodeConflatedFrame (msg: RoutedMessage, sid: Buffer, skipped: number): Buffer {
  const original = msg.headerText()
  const block = original === ''
    ? `${HEADER_PREAMBLE}\r\n${CONFLATED_HEADER}: ${skipped}\r\n\r\n`
    : `${original.slice(0, -2)}${CONFLATED_HEADER}: ${skipped}\r\n\r\n`
  const payload = msg.payload()
  const headerBytes = Buffer.byteLength(block, 'latin1')
  const reply = msg.reply === undefined ? '' : ` ${msg.reply}`
  return Buffer.concat([
    Buffer.from(`HMSG ${msg.subject} `, 'latin1'), sid,
    Buffer.from(`${reply} ${headerBytes} ${headerBytes + payload.length}\r\n${block}`, 'latin1'),
    payload, CRLF
  ])
}

/** The no-responders status nats-server sends on the requester's reply subscription. */
export function encodeNoResponders (reply: string, sid: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`HMSG ${reply} `, 'latin1'), sid, Buffer.from(' 16 16\r\nNATS/1.0 503\r\n\r\n\r\n')])
}

/**
 * Where the line of header `name` starts in a header block (the byte after its `\n`), or -1.
 * Names match case-insensitively at the start of a line, byte by byte: no string is made, since
 * this runs for every message with headers.
 */
function findHeaderLine (block: Buffer, headerBytes: number, name: string): number {
  const n = name.length
  for (let i = block.indexOf(10); i !== -1 && i + n + 1 < headerBytes; i = block.indexOf(10, i + 1)) {
    let k = 0
    for (; k < n; k++) {
      const b = block[i + 1 + k] as number
      const c = name.charCodeAt(k)
      if (b !== c && !(isAsciiLetter(c) && (b | 0x20) === (c | 0x20))) break
    }
    if (k === n && block[i + 1 + n] === 58) return i + 1 // ':'
  }
  return -1
}

function isAsciiLetter (c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** Reads a header's value (trimmed) from a header block without decoding the whole block. */
export function readHeaderValue (block: Buffer, headerBytes: number, name: string): string | undefined {
  const line = findHeaderLine(block, headerBytes, name)
  if (line === -1) return undefined
  const end = block.indexOf(13, line)
  const value = block.toString('latin1', line + name.length + 1, end < 0 || end > headerBytes ? headerBytes : end).trim()
  return value === '' ? undefined : value
}

/** Reads an integer header value from a header block without decoding the whole block. */
export function readIntegerHeader (block: Buffer, headerBytes: number, name: string): number | undefined {
  const line = findHeaderLine(block, headerBytes, name)
  return line === -1 ? undefined : integerAt(block, line + name.length + 1, headerBytes)
}

/** A header value read as an integer from `i`: blanks, then digits; undefined without any or past 2^53. */
export function integerAt (block: Uint8Array, i: number, end: number): number | undefined {
  while (block[i] === 32 || block[i] === 9) i++
  let value = 0
  let digits = 0
  for (; i < end; i++) {
    const d = (block[i] as number) - 48
    if (d < 0 || d > 9) break
    value = value * 10 + d
    digits++
  }
  return digits === 0 || value > Number.MAX_SAFE_INTEGER ? undefined : value
}

/**
 * `data` (a header block of `headerBytes`, then the payload) without any line of header `name`;
 * null when it has none. Used to take a header only the broker may set (Tickfan-Conflated) out
 * of what a client published.
 */
export function withoutHeader (
  data: Buffer,
  headerBytes: number,
  name: string
): { data: Buffer, headerBytes: number } | null {
  let line = findHeaderLine(data, headerBytes, name)
  if (line === -1) return null
  let out = data
  let bytes = headerBytes
  while (line !== -1) {
    const end = out.indexOf(10, line) + 1
    out = Buffer.concat([out.subarray(0, line), out.subarray(end)])
    bytes -= end - line
    line = findHeaderLine(out, bytes, name)
  }
  return { data: out, headerBytes: bytes }
}

/** Parses a header block into a map of name -> values (for /lvc and tests). */
export function parseHeaders (text: string): { status: string, headers: Record<string, string[]> } {
  const lines = text.split('\r\n')
  const first = lines[0] ?? ''
  const status = first.slice(HEADER_PREAMBLE.length).trim()
  const headers: Record<string, string[]> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const key = line.slice(0, colon).trim()
    ;(headers[key] ??= []).push(line.slice(colon + 1).trim())
  }
  return { status, headers }
}
