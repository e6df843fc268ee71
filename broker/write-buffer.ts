/**
 * The bytes of one connection's next socket write. A delivery's own bytes (its MSG line and the
 * body) are copied in as it is queued: one copy, as nats-server's outbound buffers, and no list
 * of pieces. A frame that many connections share (a message fanned out to subscribers with the
 * same sid) is written once into a FrameArena and only referenced when queued, as a range of
 * its slab; at take() it is copied in order with the rest, one range at a time, and the frames of
 * consecutive messages, adjacent in the slab, are one range: one copy. Copied at once into fifty
 * connections' buffers in turn, it made the broker slower at 50 subscribers (bench:ci
 * --subscribers 50), as fifty interleaved write streams defeat the memory system where one
 * stream at a time does not. The ranges are numbers in an array kept from turn to turn: an array
 * of frame Buffers kept so lives in V8's old generation, and storing young objects there cost a
 * write barrier each (1.07 and 1.16 times the reference's CPU per delivery at 50 subscribers,
 * ARCHITECTURE.md); storing
 * small integers costs none, and nothing is allocated per delivery.
 * Pure: no sockets, tested apart.
 *
 * A taken buffer is handed to the socket and never written again until the socket is done with
 * it and it is back in the WriteBufferPool; the next turn starts with a buffer from that pool,
 * sized like the last (a connection's turns tend to look alike), so an idle connection keeps
 * nothing and a busy one seldom grows within a turn (by doubling, when it does). When shared
 * frames were joined, the own bytes were copied out and their buffer serves again.
 *
 * A turn that is nothing but consecutive shared frames (the usual turn of a subscriber whose
 * sid its fellows share) is not copied at all: take() hands the socket a view of the arena's
 * slab, which is never written again, so every such subscriber writes the same bytes from the
 * same memory. A flow-control PING at its end is shared too: the first connection to end there
 * writes it into the arena after the frames, the others find it there (FrameArena.follows).
 * To keep memory bounded, a view is taken only when the socket holds nothing back (so the write
 * most likely completes at once, and a connection that is behind holds at most one slab) and
 * when it is at least an eighth of its slab (reports/broker/zero-copy-frames.md).
 */
/**
 * Byte runs and strings up to this long are copied with a loop: TypedArray#set and the native
 * latin1Write cost more. Not longer: over bench:firehose's 40-character subjects a loop took
 * more of the broker's time than latin1Write in a profile of the broker.
 */
const SHORT_COPY = 32
/** A range's kind in WriteBuffer's ranges. */
const OWN_BYTES = 0
const SHARED = 1
/** A ranges array that grew past this many ranges in a turn is not kept for the next. */
const MAX_KEPT_RANGES = 4096
/** The bytes of a FrameArena's slab. */
const SLAB_BYTES = 256 * 1024
/**
 * A turn of one shared range is written as a view of the arena's slab when the range is at least
 * this part of the slab (WriteBuffer.take): a view held by a socket that is behind keeps its whole
 * slab, so at most this many times its own bytes.
 */
const VIEW_MIN_SLAB_SHARE = 8
/** The smallest buffer a turn starts with. */
const MIN_CAPACITY = 256
/** Write buffers at least this large come from a WriteBufferPool; smaller ones from Node's own pool. */
const MIN_POOLED_BYTES = 4096
/** Bytes of free buffers a WriteBufferPool keeps. */
const MAX_POOLED_BYTES = 8 * 1024 * 1024

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

/**
 * Buffers for socket writes, used again once the socket is done with them. A write buffer was
 * allocated for every connection's every turn and dropped after its write: external memory V8
 * counts, so a broker writing 100 MB/s ran a full collection about every 64 MB of it, and each
 * fresh buffer's pages were faulted in anew. Buffers of at least MIN_POOLED_BYTES come from here,
 * in power-of-two sizes, and return when their write completed (ClientWriter); at most
 * `maxBytes` wait here, the rest are left to the GC.
 */
export class WriteBufferPool {
  /** Free buffers by size class (log2 of their size). */
  private readonly free: ArrayBufferLike[][] = []
  /** Bytes waiting in `free`. */
  private freeBytes = 0
  /** Buffers this pool made, so that only they come back (a Buffer may be a slice of Node's own pool). */
  private readonly owned = new WeakSet<ArrayBufferLike>()
  allocated = 0
  reused = 0

  constructor (private readonly maxBytes = MAX_POOLED_BYTES) {}

  /** A buffer of at least `bytes` (its whole length usable). */
  acquire (bytes: number): Buffer {
    if (bytes < MIN_POOLED_BYTES) return Buffer.allocUnsafe(bytes)
    const sizeClass = 32 - Math.clz32(bytes - 1)
    const bucket = this.free[sizeClass]
    const reusable = bucket === undefined ? undefined : bucket.pop()
    if (reusable !== undefined) {
      this.freeBytes -= reusable.byteLength
      this.reused++
      return Buffer.from(reusable)
    }
    const fresh = Buffer.allocUnsafeSlow(2 ** sizeClass)
    this.owned.add(fresh.buffer)
    this.allocated++
    return fresh
  }

  /** `chunk` (or the buffer it is part of) is no longer used by anyone: it may serve again. */
  release (chunk: Buffer): void {
    const whole = chunk.buffer
    if (this.freeBytes + whole.byteLength > this.maxBytes || !this.owned.has(whole)) return
    const sizeClass = 31 - Math.clz32(whole.byteLength)
    const bucket = this.free[sizeClass] ?? (this.free[sizeClass] = [])
    bucket.push(whole)
    this.freeBytes += whole.byteLength
  }
}

export class WriteBuffer {
  private buf: Buffer | null = null
  private at = 0
  /**
   * How large the next turn's buffer starts: the size of the last one taken and an eighth more,
   * so a turn a little larger than the last (a flush at the high-water mark ends a message past
   * it) does not double and copy.
   */
  private nextCapacity = MIN_CAPACITY

  /**
   * The next write in order once a frame was shared since the last take: the first `rangesEnd`
   * numbers, three per range (OWN_BYTES or SHARED, then start and end in the own buffer or in
   * `sharedSlab`).
   */
  private ranges: number[] = []
  private rangesEnd = 0
  private rangesBytes = 0
  /** The arena slab the shared ranges are in (all of them: a new slab flattens what came before). */
  private sharedSlab: Buffer | null = null
  /** Where the own bytes not yet in `ranges` begin. */
  private runStart = 0

  /** Bytes queued since the last take. */
  get length (): number {
    return this.rangesBytes + this.at - this.runStart
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
    const bigger = SHARED_WRITE_BUFFERS.acquire(Math.max(need, old === null ? this.nextCapacity : old.length * 2))
    if (old !== null) {
      if (this.at > 0) old.copy(bigger, 0, 0, this.at)
      SHARED_WRITE_BUFFERS.release(old) // never written to a socket
    }
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

  /**
   * A frame other connections' writes share, at `start` to `end` in a FrameArena's `slab`:
   * referenced now, copied at take(), in order.
   */
  shared (slab: Buffer, start: number, end: number): void {
    if (slab !== this.sharedSlab) {
      if (this.sharedSlab !== null) this.flatten()
      this.sharedSlab = slab
      holdSlab(slab)
    }
    if (this.at > this.runStart) this.endOwnRun()
    const ranges = this.ranges
    const n = this.rangesEnd
    if (n > 0 && ranges[n - 3] === SHARED && ranges[n - 1] === start) ranges[n - 1] = end // the next frame in the slab
    else this.addRange(SHARED, start, end)
    this.rangesBytes += end - start
  }

  /**
   * Queues `line` (a constant control line, PING) after a shared range without copying it, when
   * the arena can hold it right after that range (FrameArena.follows); false when it cannot, and
   * nothing was queued.
   */
  sharedLine (line: Buffer, arena: FrameArena): boolean {
    const n = this.rangesEnd
    if (n === 0 || this.at !== this.runStart || this.ranges[n - 3] !== SHARED) return false
    const end = this.ranges[n - 1] as number
    if (!arena.follows(this.sharedSlab as Buffer, end, line)) return false
    this.ranges[n - 1] = end + line.length
    this.rangesBytes += line.length
    return true
  }

  private addRange (kind: number, start: number, end: number): void {
    const ranges = this.ranges
    const n = this.rangesEnd
    ranges[n] = kind
    ranges[n + 1] = start
    ranges[n + 2] = end
    this.rangesEnd = n + 3
  }

  /** The own bytes since the last range become a range. */
  private endOwnRun (): void {
    this.addRange(OWN_BYTES, this.runStart, this.at)
    this.rangesBytes += this.at - this.runStart
    this.runStart = this.at
  }

  /**
   * The whole bytes queued since the last take, or null when none; the next turn starts afresh.
   * With `mayShare` (the caller's socket holds nothing back, so the write most likely completes
   * at once), bytes that are one shared range of at least an eighth of its slab come back as a
   * view of the slab, copied nowhere (VIEW_MIN_SLAB_SHARE).
   */
  take (mayShare = false): Buffer | null {
    if (this.rangesEnd > 0) {
      if (mayShare && this.rangesEnd === 3 && this.at === this.runStart &&
        this.rangesBytes * VIEW_MIN_SLAB_SHARE >= (this.sharedSlab as Buffer).length) return this.sharedView()
      return this.join()
    }
    const buf = this.buf
    if (buf === null || this.at === 0) return null
    const n = this.at
    this.buf = null
    this.at = 0
    this.nextCapacity = Math.max(MIN_CAPACITY, n + (n >>> 3))
    return n === buf.length ? buf : buf.subarray(0, n)
  }

  /** The ranges and the last run of own bytes, in one buffer; the own bytes' buffer stays for the next turn. */
  private join (): Buffer {
    if (this.at > this.runStart) this.endOwnRun()
    const total = this.rangesBytes
    const out = SHARED_WRITE_BUFFERS.acquire(total)
    const ranges = this.ranges
    const own = this.buf as Buffer
    const slab = this.sharedSlab as Buffer
    let at = 0
    for (let i = 0; i < this.rangesEnd; i += 3) {
      const start = ranges[i + 1] as number
      const end = ranges[i + 2] as number
      copyRange(out, at, ranges[i] === SHARED ? slab : own, start, end)
      at += end - start
    }
    if (this.rangesEnd > MAX_KEPT_RANGES * 3) this.ranges = []
    this.rangesEnd = 0
    this.rangesBytes = 0
    releaseSlab(slab)
    this.sharedSlab = null
    this.at = 0
    this.runStart = 0
    return out.length === total ? out : out.subarray(0, total)
  }

  /** The one shared range queued (take()'s condition), as a view of its slab, which keeps this buffer's hold on it. */
  private sharedView (): Buffer {
    const view = (this.sharedSlab as Buffer).subarray(this.ranges[1] as number, this.ranges[2] as number)
    this.rangesEnd = 0
    this.rangesBytes = 0
    this.sharedSlab = null
    this.at = 0
    this.runStart = 0
    return view
  }

  /** What is queued becomes own bytes (the shared ranges are in a slab no longer current). */
  private flatten (): void {
    const joined = this.join()
    this.bytes(joined)
    SHARED_WRITE_BUFFERS.release(joined)
  }

  /** Drops what was written (the connection is closing). */
  clear (): void {
    if (this.buf !== null) SHARED_WRITE_BUFFERS.release(this.buf)
    if (this.sharedSlab !== null) releaseSlab(this.sharedSlab)
    this.buf = null
    this.at = 0
    this.rangesEnd = 0
    this.rangesBytes = 0
    this.sharedSlab = null
    this.runStart = 0
  }
}

/**
 * Where the frames that connections share are written, one after another: a frame is a range of
 * the current slab, and a slab is never written again once full (a new one is started), so a
 * range stays valid for as long as something holds the slab (SlabState). A full slab that
 * nothing holds any more serves again as a later current slab.
 */
export class FrameArena {
  private slab: Buffer
  private state: SlabState
  private at = 0
  /** Retired slabs nothing holds, to serve again (at most MAX_SPARE_SLABS). */
  private readonly spare: SlabState[] = []
  /** Slabs this arena made, and those it took again from `spare`. */
  allocated = 0
  reused = 0
  /** The last line follows() wrote, and where in the current slab (-1: none there). */
  private line: Buffer | null = null
  private lineAt = -1

  constructor (private readonly slabBytes = SLAB_BYTES) {
    this.state = this.nextSlab(slabBytes)
    this.slab = this.state.bytes
  }

  /** Where the next frame goes in the buffer reserve() returns. */
  get offset (): number {
    return this.at
  }

  /** Room for a frame of `n` bytes; returns the slab to write it into, at `offset`. */
  reserve (n: number): Buffer {
    if (this.at + n > this.slab.length) {
      const old = this.state
      old.retired = true
      if (old.holds === 0) this.spareSlab(old)
      this.state = this.nextSlab(n)
      this.slab = this.state.bytes
      this.at = 0
      this.lineAt = -1
    }
    return this.slab
  }

  /** Marks `n` bytes written into the slab reserve() returned. */
  advance (n: number): void {
    this.at += n
  }

  /** A hold on the current slab (let go with letGo()): a frame written there stays as it is. */
  holdCurrent (): SlabState {
    this.state.holds++
    return this.state
  }

  /** A slab for frames of up to `n` bytes: a spare one, or a new one. */
  private nextSlab (n: number): SlabState {
    const spare = n <= this.slabBytes ? this.spare.pop() : undefined
    if (spare !== undefined) {
      spare.retired = false
      spare.spare = false
      this.reused++
      return spare
    }
    const bytes = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, n))
    const state: SlabState = { arena: this, bytes, holds: 0, retired: false, spare: false }
    SLABS.set(bytes.buffer, state)
    this.allocated++
    return state
  }

  /** A retired slab that nothing holds: kept to serve again, if there is room. */
  spareSlab (state: SlabState): void {
    if (state.spare || state.bytes.length !== this.slabBytes || this.spare.length >= MAX_SPARE_SLABS) return
    state.spare = true
    this.spare.push(state)
  }

  /**
   * Whether `line` is in `slab` right after `end`: written there by an earlier call for the same
   * place (connections whose shared frames end at the same byte, each adding the same PING), or
   * now, when `end` is where the slab's next frame would go. False otherwise, writing nothing.
   */
  follows (slab: Buffer, end: number, line: Buffer): boolean {
    if (slab !== this.slab) return false
    if (end === this.lineAt) return line === this.line
    if (end !== this.at || this.at + line.length > slab.length) return false
    slab.set(line, this.at)
    this.lineAt = this.at
    this.line = line
    this.at += line.length
    return true
  }
}

/**
 * What is known of a FrameArena slab, found by its memory (so a view of it finds it too). It is
 * held by the message whose frame was written there last (RoutedMessage), by each write buffer
 * with ranges in it and by each view of it that a socket has not finished writing. Only once the
 * arena has moved on and nothing holds it may it serve again, so a frame that a socket still
 * reads is never written over. A hold never let go (a transport that never calls back) only
 * keeps its slab from serving again; the GC takes it then as any other buffer.
 */
export interface SlabState {
  readonly arena: FrameArena
  readonly bytes: Buffer
  holds: number
  /** No longer its arena's current slab. */
  retired: boolean
  /** Waiting in its arena's spares. */
  spare: boolean
}

const SLABS = new WeakMap<ArrayBufferLike, SlabState>()

/** Slabs an arena keeps to serve again: a fresh one costs a page fault per 4 KiB on first use. */
const MAX_SPARE_SLABS = 8

/** Lets go of a hold on a slab (FrameArena.holdCurrent, holdSlab). */
export function letGo (state: SlabState): void {
  if (state.holds <= 0) return
  if (--state.holds === 0 && state.retired) state.arena.spareSlab(state)
}

function holdSlab (slab: Buffer): void {
  const state = SLABS.get(slab.buffer)
  if (state !== undefined) state.holds++
}

function releaseSlab (slab: Buffer | null): void {
  if (slab === null) return
  const state = SLABS.get(slab.buffer)
  if (state !== undefined) letGo(state)
}

/**
 * A chunk a socket has finished with (ClientWriter): a pooled write buffer goes back to its pool,
 * a view of a frame arena's slab lets go of its hold (WriteBuffer.take).
 */
export function releaseWritten (chunk: Buffer): void {
  const state = SLABS.get(chunk.buffer)
  if (state !== undefined) letGo(state)
  else SHARED_WRITE_BUFFERS.release(chunk)
}

/** The arena of this thread's broker. */
export const SHARED_FRAMES = new FrameArena()

/** The write buffers of this thread's broker. */
export const SHARED_WRITE_BUFFERS = new WriteBufferPool()

/** Copies `src` from `start` to `end` into `dst` at `at` (room checked by the caller). */
function copyRange (dst: Buffer, at: number, src: Buffer, start: number, end: number): void {
  if (start === 0 && end === src.length) dst.set(src, at)
  else if (end - start <= SHORT_COPY) for (let i = start; i < end; i++) dst[at++] = src[i] as number
  else src.copy(dst, at, start, end)
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
