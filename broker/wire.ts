/**
 * Encoding of what the broker sends: INFO, MSG / HMSG frames and header blocks.
 *
 * A published message is encoded once into a `RoutedMessage`: its body (headers + payload +
 * CRLF) is one Buffer shared by every delivery, and the pieces of the control line that do
 * not depend on the subscriber (`MSG <subject> ` and ` [reply] <sizes>\r\n`) are built once,
 * lazily, per variant. A delivery then costs a few array pushes and no allocation: the only
 * per-subscriber bytes are its sid, encoded once when it subscribes.
 */
import { CONFLATED_HEADER, HEADER_PREAMBLE } from '../lib/headers.ts'
import type { SubjectClass } from './subject-classes.ts'

const CRLF = Buffer.from('\r\n')

type Latin1Buffer = Buffer & {
  latin1Slice: (start: number, end: number) => string
  latin1Write: (text: string, at: number) => number
}
const nativeLatin1 = Buffer.prototype as Partial<Latin1Buffer>

/**
 * Buffer.prototype.latin1Slice and latin1Write, where `toString('latin1', …)` and
 * `write(…, 'latin1')` end after checking their arguments and looking the encoding up; on the
 * publish path, once per message. Not in the typings, so checked once here, with the public
 * methods as the fallback.
 */
export const latin1Slice: (buf: Buffer, start: number, end: number) => string =
  typeof nativeLatin1.latin1Slice === 'function'
    ? (buf, start, end) => (buf as Latin1Buffer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end)

export const latin1Write: (target: Buffer, text: string, at: number) => void =
  typeof nativeLatin1.latin1Write === 'function'
    ? (target, text, at) => { (target as Latin1Buffer).latin1Write(text, at) }
    : (target, text, at) => { target.write(text, at, 'latin1') }

/** Messages whose body is larger get no shared frame (RoutedMessage.frame). */
const FRAME_MAX_BYTES = 16 * 1024

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

export class RoutedMessage {
  /** Header block length; 0 when the message has no headers. */
  readonly headerBytes: number
  /** Header block + payload + CRLF, copied out of the read buffer. */
  readonly body: Buffer
  /** Deliveries in the current fan-out (frame() counts them; dropFrame() ends the fan-out). */
  private fanned = 0
  /** The last sid a frame was asked for, whether with headers, and that frame once built. */
  private frameSid: Buffer | null = null
  private frameWithHeaders = false
  private frameBuilt: Buffer | null = null
  /**
   * Its place in the last-value cache's order of stores (0 when it was never cached): a snapshot
   * delivers a cached value only if it was stored before the subscription began.
   */
  cacheOrder = 0
  private msgHead: Buffer | null = null
  private hmsgHead: Buffer | null = null
  private msgTail: Buffer | null = null
  private hmsgTail: Buffer | null = null
  private msgStart: string | null = null
  private msgEnd: string | null = null
  private hmsgStart: string | null = null
  private hmsgEnd: string | null = null

  constructor (
    readonly subject: string,
    readonly reply: string | undefined,
    readonly subjectClass: SubjectClass,
    data: Buffer,
    headerBytes: number,
    /** Broker clock (ms) when the message was published: the age of pending copies. */
    readonly publishedAtMs: number,
    /** The publisher's sequence for last-value ordering, when it sent one. */
    readonly sequence: number | undefined,
    /** The publishing connection's id here; -1 when it came from a link (response grants count per requester). */
    readonly publisherCid = -1
  ) {
    this.headerBytes = headerBytes > 0 ? headerBytes : 0
    if (isAssembledPayload(data)) {
      this.body = Buffer.from(data.buffer, 0, data.length + 2)
      return
    }
    const body = Buffer.allocUnsafe(data.length + 2)
    body.set(data, 0)
    body[data.length] = 13
    body[data.length + 1] = 10
    this.body = body
  }

  get payloadBytes (): number {
    return this.body.length - 2 - this.headerBytes
  }

  /** Bytes one delivery puts on the wire (approximately: the sid is not counted). */
  get frameBytes (): number {
    return this.body.length + this.subject.length + 24 + (this.reply?.length ?? 0)
  }

  /** `MSG <subject> ` (or HMSG) as bytes, made once: a piece of every delivery after the first. */
  head (withHeaders: boolean): Buffer {
    if (withHeaders && this.headerBytes > 0) return this.hmsgHead ??= Buffer.from(this.lineStart(true), 'latin1')
    return this.msgHead ??= Buffer.from(this.lineStart(false), 'latin1')
  }

  /** `[ reply] <size>\r\n` (or the HMSG sizes) as bytes, made once. */
  tail (withHeaders: boolean): Buffer {
    if (withHeaders && this.headerBytes > 0) return this.hmsgTail ??= Buffer.from(this.lineEnd(true), 'latin1')
    return this.msgTail ??= Buffer.from(this.lineEnd(false), 'latin1')
  }

  private lineStart (headers: boolean): string {
    return headers ? (this.hmsgStart ??= `HMSG ${this.subject} `) : (this.msgStart ??= `MSG ${this.subject} `)
  }

  private lineEnd (headers: boolean): string {
    const reply = this.reply === undefined ? '' : ` ${this.reply}`
    return headers
      ? (this.hmsgEnd ??= `${reply} ${this.headerBytes} ${this.body.length - 2}\r\n`)
      : (this.msgEnd ??= `${reply} ${this.payloadBytes}\r\n`)
  }

  /**
   * The control line of one delivery to `sid`: `MSG <subject> <sid>[ reply] <size>\r\n`, or
   * HMSG with the header size when `withHeaders` and the message has headers. The parts around
   * the sid are made once per message.
   */
  line (sid: string, withHeaders: boolean): string {
    const headers = withHeaders && this.headerBytes > 0
    return this.lineStart(headers) + sid + this.lineEnd(headers)
  }

  /**
   * The whole frame of a delivery to `sid` (its MSG or HMSG line and body in one buffer), when
   * the delivery before it asked for the same sid: one piece for the outbox instead of four. The
   * first asker gets null (and uses the pieces), so a frame is built only for a sid two
   * subscribers share; not for messages over FRAME_MAX_BYTES, where copying the pieces is what
   * costs.
   */
  frame (sub: { readonly sid: string, readonly sidBytes: Buffer }, withHeaders: boolean): Buffer | null {
    this.fanned++
    if (this.body.length > FRAME_MAX_BYTES) return null
    const headers = withHeaders && this.headerBytes > 0
    if (sub.sidBytes === this.frameSid && headers === this.frameWithHeaders) {
      return this.frameBuilt ??= this.buildFrame(sub.sid, headers)
    }
    this.frameSid = sub.sidBytes
    this.frameWithHeaders = headers
    this.frameBuilt = null
    return null
  }

  /** One buffer: the MSG (or HMSG) line, then the body. */
  private buildFrame (sid: string, headers: boolean): Buffer {
    const line = this.line(sid, headers)
    const body = this.bodyFor(headers)
    const frame = Buffer.allocUnsafe(line.length + body.length)
    latin1Write(frame, line, 0)
    frame.set(body, line.length)
    return frame
  }

  /** Whether this fan-out has asked for more than one delivery so far (pieces made once then pay off). */
  get fanningOut (): boolean {
    return this.fanned > 1
  }

  /** Forgets the frame (after a fan-out: a cached message should not keep a second copy). */
  dropFrame (): void {
    this.fanned = 0
    this.frameSid = null
    this.frameBuilt = null
  }

  bodyFor (withHeaders: boolean): Buffer {
    return withHeaders || this.headerBytes === 0 ? this.body : this.body.subarray(this.headerBytes)
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
  if (line === -1) return undefined
  let i = line + name.length + 1
  while (block[i] === 32 || block[i] === 9) i++
  let value = 0
  let digits = 0
  for (; i < headerBytes; i++) {
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
