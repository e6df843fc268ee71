/**
 * The bytes of one connection's next socket write. A delivery's own bytes (its MSG line and the
 * body) are copied in as it is queued: one copy, as nats-server's outbound buffers, and no list
 * of pieces. A frame that many connections share (a message fanned out to subscribers with the
 * same sid) is only referenced when queued and copied at take(), in order with the rest: copied
 * at once into fifty connections' buffers in turn, it made the broker slower than a list joined
 * per connection at 50 subscribers (bench:ci --subscribers 50), as fifty interleaved write
 * streams defeat the memory system where one stream at a time does not.
 * Pure: no sockets, tested apart.
 *
 * A taken buffer is handed to the socket and never written again; the next turn starts a fresh
 * one, sized like the last (a connection's turns tend to look alike), so an idle connection
 * keeps nothing and a busy one seldom grows within a turn (by doubling, when it does). When
 * shared frames were joined, the own bytes were copied out and their buffer serves again.
 */
/**
 * Byte runs and strings up to this long are copied with a loop: TypedArray#set and the native
 * latin1Write cost more. Not longer: over bench:firehose's 40-character subjects a loop took
 * more of the broker's time than latin1Write in a profile of the broker.
 */
const SHORT_COPY = 32
/** The smallest buffer a turn starts with. */
const MIN_CAPACITY = 256

type Latin1Writer = Buffer & { latin1Write: (text: string, at: number) => number }
const nativeLatin1Write = (Buffer.prototype as Partial<Latin1Writer>).latin1Write

/**
 * Buffer.prototype.latin1Write, where `write(…, 'latin1')` ends after checking its arguments and
 * looking the encoding up. Not in the typings, so checked once here, with the public method as
 * the fallback.
 */
const latin1Write: (target: Buffer, text: string, at: number) => void =
  typeof nativeLatin1Write === 'function'
    ? (target, text, at) => { (target as Latin1Writer).latin1Write(text, at) }
    : (target, text, at) => { target.write(text, at, 'latin1') }

export class WriteBuffer {
  private buf: Buffer | null = null
  private at = 0
  /**
   * How large the next turn's buffer starts: the size of the last one taken and an eighth more,
   * so a turn a little larger than the last (a flush at the high-water mark ends a message past
   * it) does not double and copy.
   */
  private nextCapacity = MIN_CAPACITY

  /** Pieces of the next write in order (runs of own bytes, shared frames), once a frame was shared this turn. */
  private pieces: Buffer[] | null = null
  private piecesBytes = 0
  /** Where the own bytes not yet in `pieces` begin. */
  private runStart = 0

  /** Bytes queued since the last take. */
  get length (): number {
    return this.piecesBytes + this.at - this.runStart
  }

  /** Where the next own bytes go in the buffer reserve() returns (not `length`: shared frames are not in it). */
  get offset (): number {
    return this.at
  }

  /** Room for `n` more bytes; returns the buffer to write them into, at `offset`. */
  reserve (n: number): Buffer {
    const buf = this.buf
    const need = this.at + n
    if (buf !== null && need <= buf.length) return buf
    return this.grow(need)
  }

  private grow (need: number): Buffer {
    const old = this.buf
    const bigger = Buffer.allocUnsafe(Math.max(need, old === null ? this.nextCapacity : old.length * 2))
    if (old !== null && this.at > 0) old.copy(bigger, 0, 0, this.at)
    this.buf = bigger
    return bigger
  }

  /** Marks `n` bytes written into the buffer `reserve` returned. */
  advance (n: number): void {
    this.at += n
  }

  bytes (b: Buffer): void {
    this.at = copyBytes(this.reserve(b.length), this.at, b, 0)
  }

  /** A frame other connections' writes share: referenced now, copied at take(), in order. */
  shared (frame: Buffer): void {
    const pieces = this.pieces ??= []
    if (this.at > this.runStart) {
      const run = (this.buf as Buffer).subarray(this.runStart, this.at)
      pieces.push(run)
      this.piecesBytes += run.length
      this.runStart = this.at
    }
    pieces.push(frame)
    this.piecesBytes += frame.length
  }

  /** The whole bytes queued since the last take, or null when none; the next turn starts afresh. */
  take (): Buffer | null {
    const pieces = this.pieces
    if (pieces !== null) return this.join(pieces)
    const buf = this.buf
    if (buf === null || this.at === 0) return null
    const n = this.at
    this.buf = null
    this.at = 0
    this.nextCapacity = Math.max(MIN_CAPACITY, n + (n >>> 3))
    return n === buf.length ? buf : buf.subarray(0, n)
  }

  /** The pieces and the last run of own bytes, in one buffer; the own bytes' buffer stays for the next turn. */
  private join (pieces: Buffer[]): Buffer {
    if (this.at > this.runStart) pieces.push((this.buf as Buffer).subarray(this.runStart, this.at))
    const out = Buffer.concat(pieces, this.length)
    this.pieces = null
    this.piecesBytes = 0
    this.at = 0
    this.runStart = 0
    return out
  }

  /** Drops what was written (the connection is closing). */
  clear (): void {
    this.buf = null
    this.at = 0
    this.pieces = null
    this.piecesBytes = 0
    this.runStart = 0
  }
}

/** Copies `src` from `from` to its end into `dst` at `at` (room checked by the caller); returns the end. */
export function copyBytes (dst: Buffer, at: number, src: Buffer, from: number): number {
  const n = src.length - from
  if (n <= SHORT_COPY) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i] as number
  } else {
    dst.set(from === 0 ? src : src.subarray(from), at)
  }
  return at + n
}

/**
 * Writes `text` as latin1 into `buf` at `at` (room checked by the caller): one byte per
 * character, the low byte of each, as Buffer.from(text, 'latin1') gives. Protocol text is ASCII,
 * and subjects read off the wire are latin1 strings, so their bytes come back unchanged. Returns
 * the end.
 */
export function writeLatin1 (buf: Buffer, at: number, text: string): number {
  const n = text.length
  if (n <= SHORT_COPY) {
    for (let i = 0; i < n; i++) buf[at + i] = text.charCodeAt(i)
  } else {
    latin1Write(buf, text, at)
  }
  return at + n
}

/** Decimal digits of a non-negative integer. */
export function decimalDigits (n: number): number {
  let digits = 1
  while (n >= 10) { n = (n - (n % 10)) / 10; digits++ }
  return digits
}

/** Writes a non-negative integer in decimal at `at` (room checked by the caller); returns the end. */
export function writeDecimal (buf: Buffer, at: number, n: number): number {
  const end = at + decimalDigits(n)
  let i = end
  do {
    const digit = n % 10
    buf[--i] = 48 + digit
    n = (n - digit) / 10
  } while (n > 0)
  return end
}
