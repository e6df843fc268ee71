/**
 * A stream of message history kept in memory: what `--history` keeps of event subjects (trades)
 * so that a client that missed some can read them again, through the JetStream API subset in
 * jetstream.ts. Pure: the caller passes the clock.
 *
 * Like a JetStream stream with `limits` retention, messages get consecutive sequence numbers and
 * leave oldest first, once they are older than `maxAgeMs` or the stream holds more than
 * `maxBytes`; past `maxMsgsPerSubject` a subject's oldest message leaves (a hole in the
 * sequence). A message with a `Nats-Msg-Id` already seen within `duplicateWindowMs` is not
 * stored again, so a publisher that republishes after a restart makes nothing twice; at most
 * `maxMsgIds` ids are remembered, the oldest forgotten first. Memory is bounded by `maxBytes`
 * plus a fixed cost per message and id, whatever the rate.
 *
 * Stored without an object per message, because a stream holds every message for minutes and
 * each one would be copied by every young-generation collection and marked by every full one
 * (with an ArrayBuffer per message, GC was 15.5% of the trade path in `bench/micro/publish-path.ts
 * --subject trade`: reports/broker/history-store.md). Bytes go into 64 KiB slabs, appended in
 * order (a message over a quarter slab gets one of its own); what is known of each message sits
 * in typed-array columns indexed by `seq - base`, in blocks of 4,096 messages added and dropped
 * as the stream grows and shrinks; a subject's messages are linked oldest to
 * newest through a column (every limit removes a subject's oldest first). A slab is let go when
 * its last message leaves; if holes (per-subject removals) leave slabs holding more than twice
 * the bytes still kept (plus 4 slabs), the live messages are copied into fresh slabs, so memory
 * stays within about twice `maxBytes`. A StoredMessage is made only when one is read; its `data`
 * is a view of a slab, valid while the message is held: a slab let go may serve again (up to
 * MAX_SPARE_SLABS wait), so a reader uses the data at once or copies it, as every reader does
 * (jetstream.ts sends it on in the same call, and a delivery that is held is copied: wire.ts
 * RoutedMessage.retain).
 */
import { createHash } from 'node:crypto'
import { isValidSubject, subjectMatches } from './subjects.ts'

export interface HistoryConfig {
  /** The stream's name (JetStream's rules: no spaces, dots, `*`, `>`). */
  name: string
  /** The subjects it keeps (wildcards allowed). */
  subjects: readonly string[]
  /** Oldest message kept, in ms (0: no age limit). */
  maxAgeMs: number
  /** Bytes kept: subject, headers and payload of every message. */
  maxBytes: number
  /** Messages kept per subject (0: no limit). */
  maxMsgsPerSubject: number
  /** How long a `Nats-Msg-Id` keeps a second copy out, in ms. */
  duplicateWindowMs: number
  /** Message ids remembered at most. */
  maxMsgIds: number
}

export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  /** Header block (if any) and payload, as published. */
  readonly data: Buffer
  readonly headerBytes: number
  /** When it was stored: ms since the epoch, and ns as a decimal string (distinct within a ms). */
  readonly timeMs: number
  readonly timeNs: string
  /** What it counts against maxBytes. */
  readonly bytes: number
}


/**
 * Where a caller keeps a stream's state of one subject between appends (HistoryStream.append):
 * one stream per note, as the router's facts of a subject name one stream.
 */
export interface HistoryNote {
  historyState: SubjectState | null
}

/** One subject's messages in a stream: how many, and its oldest and newest (a list through the blocks). */
export interface SubjectState {
  readonly id: number
  readonly subject: string
  count: number
  /** Its oldest and newest sequences (0 while it has none). */
  first: number
  last: number
}

interface Slab {
  readonly bytes: Buffer
  /** Bytes written (the next message goes here). */
  used: number
  /** Messages still kept in it. */
  live: number
}

/**
 * Bytes per slab; a message over a quarter of it gets a slab of its own. 64 KiB, under the
 * 128 KiB at which the broker's glibc maps each block apart (broker/process-settings.ts): a slab
 * let go returns to the heap and the next one reuses it, warm. Slabs of 1 MiB were each mapped
 * fresh and unmapped when let go, so a full history (one slab out for each one in) took 256
 * page faults per MiB stored: in `bench/micro/publish-path.ts --subject trade
 * --history-max-bytes 33554432` 64 KiB slabs took the page faults from 117-129k to 45-53k and
 * the rate up 5-11% in each of five interleaved pairs; a growing history faults either way
 * (reports/broker/history-slabs.md).
 */
export const SLAB_BYTES = 64 * 1024

/**
 * The most slab bytes a stream holds for `dataBytes` of messages: twice them, or them and four
 * slabs when that is more. Past it, removals close the holes (closeHoles).
 */
export function heldBytesBound (dataBytes: number, slabBytes = SLAB_BYTES): number {
  return Math.max(2 * dataBytes, dataBytes + 4 * slabBytes)
}
/**
 * Slabs let go that wait to serve again. Without them a full stream (one slab out for each one
 * in) allocated a fresh slab for every one let go, freed only by V8's next full collection: the
 * heap grew between collections, each new page faulted in, and the slabs' growth as external
 * memory brought the full collections on (reports/broker/history-spare-slabs.md).
 */
const MAX_SPARE_SLABS = 8

/** Marks a removed message in the slab column. */
const REMOVED = -1

/**
 * Messages per block of the columns (4,096: 160 KiB a block). The columns were single typed
 * arrays that doubled when full: at a million messages a doubling allocated and copied 80 MB
 * in one go, a pause that took tickfan's p99 in max-throughput from 35 ms to 84-111 ms
 * (`reports/broker/history-blocks.md`).
 */
const BLOCK_SHIFT = 12
const BLOCK = 1 << BLOCK_SHIFT
const BLOCK_MASK = BLOCK - 1

/**
 * The message size `preallocate()` takes blocks for: maxBytes / 128 messages (and one block
 * more). A stream of larger messages leaves some unused; one of smaller messages adds blocks as
 * it fills, as without preallocate(). 128 B is a trade's subject and a short JSON payload; the
 * benchmarks' are 167 B (reports/broker/history-fill.md, section 8).
 */
export const PREALLOCATED_MESSAGE_BYTES = 128

/** What is known of BLOCK consecutive messages, a typed-array column each. */
class Block {
  /** The slab holding its bytes, or REMOVED. */
  readonly slabOf = new Int32Array(BLOCK)
  readonly offset = new Int32Array(BLOCK)
  readonly size = new Int32Array(BLOCK)
  readonly headers = new Int32Array(BLOCK)
  readonly subjectOf = new Int32Array(BLOCK)
  readonly sameMs = new Int32Array(BLOCK)
  readonly timeMs = new Float64Array(BLOCK)
  /** The next sequence on the same subject (0: none yet). */
  readonly nextOnSubject = new Float64Array(BLOCK)
}

export class HistoryStream {
  readonly createdMs: number
  /** Messages held now, and what they count against maxBytes. */
  messages = 0
  bytes = 0
  /** Messages removed before the front (per-subject limit): holes in the sequence. */
  deleted = 0
  /** Messages removed by each limit, and duplicates refused, since the start. */
  readonly removed = { age: 0, bytes: 0, perSubject: 0 }
  duplicates = 0
  /** Messages not stored because their header block passed MAX_STORED_HEADER_BYTES (jetstream.ts). */
  headersTooLarge = 0
  /** Slab bytes written and not yet let go, and copies made to close holes (`compactions`). */
  heldBytes = 0
  compactions = 0
  /** Slabs allocated since the start (a spare one serving again is not counted). */
  slabsAllocated = 0
  /** Blocks of columns allocated since the start (a spare one serving again is not counted). */
  blocksAllocated = 0
  /** Called with each message as it leaves (consumers keep their pending counts with it). */
  onRemove: ((seq: number, subject: string) => void) | null = null

  // Columns, by `seq - base`, in blocks of BLOCK entries; [head, length) is what is held (removed
  // ones marked REMOVED). A block is added as the stream grows and dropped once the head has
  // passed it: nothing is ever copied to make room.
  private base = 1
  private head = 0
  private length = 0
  private blocks: Block[] = []
  /**
   * Dropped blocks kept to be the next ones added (a stream at its limits adds and drops in
   * turn), at most maxSpareBlocks; preallocate() fills it.
   */
  private readonly spareBlocks: Block[] = []
  private maxSpareBlocks = 1

  /** Slabs by `number - slabBase`; null once let go. */
  private slabs: Array<Slab | null> = []
  private slabBase = 0
  private current: Slab | null = null
  private currentNumber = -1
  /** Slabs of slabBytes let go, to serve again (at most maxSpareSlabs). */
  private readonly spareSlabs: Buffer[] = []
  /** MAX_SPARE_SLABS, or the slabs preallocate() took when more. */
  private maxSpareSlabs = MAX_SPARE_SLABS

  private readonly subjectsState = new Map<string, SubjectState>()
  private subjectsById: Array<SubjectState | undefined> = []
  private freeSubjectIds: number[] = []
  private readonly msgIds = new Map<string, { seq: number, atMs: number }>()
  private nextSeq = 1
  private lastTimeMs = 0
  private sameMsCount = 0
  private dataBytes = 0
  /** The time expire() last looked at (NaN: never). */
  private expiredAtMs = Number.NaN

  /** `slabBytes` other than SLAB_BYTES is for tests, to reach slab edges with small messages. */
  constructor (readonly config: HistoryConfig, nowMs: number, private readonly slabBytes = SLAB_BYTES) {
    this.createdMs = nowMs
  }

  /**
   * Takes the slabs that `maxBytes` fills and writes every page of them, to serve as spares,
   * and the blocks of columns for maxBytes / PREALLOCATED_MESSAGE_BYTES messages: the stream
   * then fills without asking the system for memory. A stream that fills fresh memory pays the
   * page faults, and V8 counts each new slab and block as external memory and starts a full
   * collection at each step of its growth (one every 1.2-3.0 s at 120,000 trades a second with
   * the slabs, every 2-7 s with the blocks alone); under a CPU quota those collections set a young
   * broker's p99 (reports/broker/history-fill.md, sections 3 and 8). What it holds stays within
   * the same bound as without: a slab or block is taken only when no spare is left. Tops the
   * slabs held and spare up to that many (and the blocks likewise); returns the slabs.
   */
  preallocate (): number {
    const slabs = Math.ceil(this.config.maxBytes / this.slabBytes)
    let have = this.spareSlabs.length
    for (const slab of this.slabs) if (slab !== null) have++
    for (let i = have; i < slabs; i++) {
      this.spareSlabs.push(Buffer.allocUnsafeSlow(this.slabBytes).fill(0))
      this.slabsAllocated++
    }
    this.maxSpareSlabs = Math.max(MAX_SPARE_SLABS, slabs)
    // The messages held span one block more than they fill: the head leaves one as the tail starts the next.
    const blocks = Math.ceil(this.config.maxBytes / PREALLOCATED_MESSAGE_BYTES / BLOCK) + 1
    for (let i = this.blocks.length + this.spareBlocks.length; i < blocks; i++) this.spareBlocks.push(this.newBlock())
    this.maxSpareBlocks = Math.max(1, blocks)
    return slabs
  }

  /** Whether this stream keeps `subject`. */
  captures (subject: string): boolean {
    const subjects = this.config.subjects
    for (let i = 0; i < subjects.length; i++) if (subjectMatches(subjects[i] as string, subject)) return true
    return false
  }

  /**
   * Stores a message and returns its sequence; a message whose id was seen within the duplicate
   * window is not stored, and gets minus the sequence it was stored as (sequences start at 1).
   * A number, not a result object: this runs for every trade. `note`: where the caller keeps
   * this stream's state of the subject between appends (the router's facts of the subject), so
   * that an append finds it without a lookup by subject.
   */
  append (
    subject: string,
    data: Buffer,
    headerBytes: number,
    msgId: string | undefined,
    nowMs: number,
    note?: HistoryNote
  ): number {
    this.forgetIds(nowMs)
    // Before the duplicate check: a refused duplicate still moves time on for what is kept.
    this.expire(nowMs)
    if (msgId !== undefined) {
      msgId = msgIdKey(msgId)
      const seen = this.msgIds.get(msgId)
      if (seen !== undefined) {
        this.duplicates++
        return -seen.seq
      }
    }
    const seq = this.nextSeq++
    if (nowMs === this.lastTimeMs) this.sameMsCount++
    else { this.lastTimeMs = nowMs; this.sameMsCount = 0 }
    if (this.head === this.length) { // empty: start again at index 0, in the first block kept
      this.base = seq
      this.head = 0
      this.length = 0
      if (this.blocks.length > 1) {
        this.keepSpareBlocks(1, this.blocks.length)
        this.blocks.length = 1
      }
    }
    const i = this.slot()
    const block = this.block(i)
    const j = i & BLOCK_MASK
    // A copy of its own, in a slab: `data` may be a slice of a buffer shared with other messages.
    this.write(block, j, data)
    block.headers[j] = headerBytes
    block.timeMs[j] = nowMs
    block.sameMs[j] = this.sameMsCount % 1_000_000
    block.nextOnSubject[j] = 0
    // A state with messages is the subject's in this stream (removeOne forgets one left with none).
    let state = note?.historyState ?? null
    if (state === null || state.count === 0 || state.subject !== subject) {
      state = this.subjectsState.get(subject) ?? null
      if (state === null) {
        const id = this.freeSubjectIds.pop() ?? this.subjectsById.length
        state = { id, subject, count: 0, first: 0, last: 0 }
        this.subjectsState.set(subject, state)
        this.subjectsById[id] = state
      }
      if (note !== undefined) note.historyState = state
    }
    block.subjectOf[j] = state.id
    if (state.count === 0) state.first = seq
    else {
      const previous = state.last - this.base
      this.block(previous).nextOnSubject[previous & BLOCK_MASK] = seq
    }
    state.last = seq
    state.count++
    this.messages++
    this.bytes += subject.length + data.length
    if (msgId !== undefined) this.msgIds.set(msgId, { seq, atMs: nowMs })
    const perSubject = this.config.maxMsgsPerSubject
    if (perSubject > 0 && state.count > perSubject) this.removeOne(state.first, 'perSubject')
    while (this.bytes > this.config.maxBytes && this.messages > 1) this.removeOne(this.firstSeq, 'bytes')
    return seq
  }

  /** Removes what is older than the age limit. */
  expire (nowMs: number): void {
    const maxAge = this.config.maxAgeMs
    // Within the millisecond last checked nothing more is old enough: the front only moves to
    // messages stored later, no older than it.
    if (maxAge <= 0 || nowMs === this.expiredAtMs) return
    this.expiredAtMs = nowMs
    for (let i = this.front(); i >= 0 && nowMs - this.timeAt(i) > maxAge; i = this.front()) {
      this.removeOne(this.base + i, 'age')
    }
  }

  /** The sequence a message id was stored as, if within the duplicate window. */
  seenId (msgId: string, nowMs: number): number | undefined {
    this.forgetIds(nowMs)
    return this.msgIds.get(msgIdKey(msgId))?.seq
  }

  get (seq: number): StoredMessage | undefined {
    const i = seq - this.base
    return i >= this.head && i < this.length && this.isHeld(i) ? this.message(i) : undefined
  }

  /** The first message at or after `seq` whose subject `filter` matches (any with no filter). */
  nextFrom (seq: number, filter: string | null): StoredMessage | undefined {
    for (let i = Math.max(seq - this.base, this.head); i < this.length; i++) {
      if (this.isHeld(i) && this.matches(i, filter)) return this.message(i)
    }
    return undefined
  }

  /** Messages at or after `seq` that `filter` matches. */
  countFrom (seq: number, filter: string | null): number {
    if (filter === null && seq <= this.firstSeq) return this.messages
    let n = 0
    for (let i = Math.max(seq - this.base, this.head); i < this.length; i++) {
      if (this.isHeld(i) && this.matches(i, filter)) n++
    }
    return n
  }

  /** The newest message on a literal subject. */
  lastOn (subject: string): StoredMessage | undefined {
    const state = this.subjectsState.get(subject)
    return state === undefined ? undefined : this.get(state.last)
  }

  /** The newest message of each subject `filter` matches, oldest first (deliver policy last-per-subject). */
  lastPerSubject (filter: string | null): StoredMessage[] {
    const out: StoredMessage[] = []
    for (const [subject, state] of this.subjectsState) {
      if (filter !== null && !subjectMatches(filter, subject)) continue
      const msg = this.get(state.last)
      if (msg !== undefined) out.push(msg)
    }
    return out.sort((a, b) => a.seq - b.seq)
  }

  /** The sequence of the first message stored at or after `ms` (the next sequence if none). */
  seqAtOrAfter (ms: number): number {
    for (let i = this.head; i < this.length; i++) {
      if (this.isHeld(i) && this.timeAt(i) >= ms) return this.base + i
    }
    return this.nextSeq
  }

  /** First sequence held (the next one to be stored when empty). */
  get firstSeq (): number {
    const i = this.front()
    return i < 0 ? this.nextSeq : this.base + i
  }

  /** Last sequence stored (0 before the first). */
  get lastSeq (): number {
    return this.nextSeq - 1
  }

  get subjectCount (): number {
    return this.subjectsState.size
  }

  get firstMessage (): StoredMessage | undefined {
    const i = this.front()
    return i < 0 ? undefined : this.message(i)
  }

  get lastMessage (): StoredMessage | undefined {
    return this.get(this.lastSeq)
  }

  private matches (i: number, filter: string | null): boolean {
    return filter === null || subjectMatches(filter, this.subjectAt(i))
  }

  private subjectAt (i: number): string {
    return (this.subjectsById[this.block(i).subjectOf[i & BLOCK_MASK] as number] as SubjectState).subject
  }

  private message (i: number): StoredMessage {
    const block = this.block(i)
    const j = i & BLOCK_MASK
    const slab = this.slabAt(block.slabOf[j] as number)
    const start = block.offset[j] as number
    const subject = this.subjectAt(i)
    const data = slab.bytes.subarray(start, start + (block.size[j] as number))
    const timeMs = block.timeMs[j] as number
    return {
      seq: this.base + i,
      subject,
      data,
      headerBytes: block.headers[j] as number,
      timeMs,
      timeNs: `${timeMs}${String(block.sameMs[j]).padStart(6, '0')}`,
      bytes: subject.length + data.length
    }
  }

  /** The block that holds index `i`. */
  private block (i: number): Block {
    return this.blocks[i >>> BLOCK_SHIFT] as Block
  }

  private isHeld (i: number): boolean {
    return this.block(i).slabOf[i & BLOCK_MASK] !== REMOVED
  }

  private timeAt (i: number): number {
    return this.block(i).timeMs[i & BLOCK_MASK] as number
  }

  /** The index of the oldest message held (past removed ones), or -1. */
  private front (): number {
    while (this.head < this.length && !this.isHeld(this.head)) {
      this.head++
      this.deleted--
    }
    if (this.head >= BLOCK) this.dropPassedBlocks()
    return this.head < this.length ? this.head : -1
  }

  /** The next free index, a block added as needed. */
  private slot (): number {
    if (this.length === this.blocks.length * BLOCK) {
      this.blocks.push(this.spareBlocks.pop() ?? this.newBlock())
    }
    return this.length++
  }

  /** Drops the blocks the head has passed (all they hold was removed); indexes move down by whole blocks. */
  private dropPassedBlocks (): void {
    const passed = this.head >>> BLOCK_SHIFT
    this.keepSpareBlocks(0, passed)
    this.blocks.splice(0, passed)
    const moved = passed * BLOCK
    this.base += moved
    this.head -= moved
    this.length -= moved
  }

  private newBlock (): Block {
    this.blocksAllocated++
    return new Block()
  }

  /** Keeps blocks [from, to) as spares, up to maxSpareBlocks (the caller drops them from `blocks`). */
  private keepSpareBlocks (from: number, to: number): void {
    const spares = this.spareBlocks
    for (let b = from; b < to && spares.length < this.maxSpareBlocks; b++) spares.push(this.blocks[b] as Block)
  }

  /** Copies `data` into a slab and notes where at entry `j` of `block`. */
  private write (block: Block, j: number, data: Uint8Array): void {
    const n = data.length
    let number: number
    let slab: Slab
    if (n > this.slabBytes / 4) {
      number = this.newSlab(n)
      slab = this.slabAt(number)
    } else {
      const previous = this.current
      if (previous === null || previous.used + n > previous.bytes.length) {
        const previousNumber = this.currentNumber
        this.currentNumber = this.newSlab(this.slabBytes)
        this.current = this.slabAt(this.currentNumber)
        if (previous !== null && previous.live === 0) this.letGo(previousNumber, previous)
      }
      number = this.currentNumber
      slab = this.current as Slab
    }
    block.slabOf[j] = number
    slab.bytes.set(data, slab.used)
    block.offset[j] = slab.used
    block.size[j] = n
    slab.used += n
    slab.live++
    this.heldBytes += n
    this.dataBytes += n
  }

  /** A slab of `bytes`, a spare one where it fits; returns its number. */
  private newSlab (bytes: number): number {
    const spare = bytes === this.slabBytes ? this.spareSlabs.pop() : undefined
    if (spare === undefined) this.slabsAllocated++
    this.slabs.push({ bytes: spare ?? Buffer.allocUnsafeSlow(bytes), used: 0, live: 0 })
    return this.slabBase + this.slabs.length - 1
  }

  private slabAt (number: number): Slab {
    return this.slabs[number - this.slabBase] as Slab
  }

  private removeOne (seq: number, why: 'age' | 'bytes' | 'perSubject'): void {
    const i = seq - this.base
    if (i < this.head || i >= this.length || !this.isHeld(i)) return
    const block = this.block(i)
    const j = i & BLOCK_MASK
    const number = block.slabOf[j] as number
    block.slabOf[j] = REMOVED
    if (i === this.head) this.head++
    else this.deleted++
    const state = this.subjectsById[block.subjectOf[j] as number] as SubjectState
    const n = block.size[j] as number
    this.messages--
    this.bytes -= state.subject.length + n
    this.dataBytes -= n
    this.removed[why]++
    // Every limit removes a subject's oldest: the list's head.
    state.first = block.nextOnSubject[j] as number
    state.count--
    if (state.count === 0) {
      this.subjectsState.delete(state.subject)
      this.subjectsById[state.id] = undefined
      this.freeSubjectIds.push(state.id)
    }
    const slab = this.slabAt(number)
    slab.live--
    if (slab.live === 0 && slab !== this.current) this.letGo(number, slab)
    if (this.heldBytes > heldBytesBound(this.dataBytes, this.slabBytes)) this.closeHoles()
    this.onRemove?.(seq, state.subject)
  }

  /** Drops slab `number` (its last message left), and the let-go slabs at the front of the list. */
  private letGo (number: number, slab: Slab): void {
    this.heldBytes -= slab.used
    this.slabs[number - this.slabBase] = null
    const spares = this.spareSlabs
    if (slab.bytes.length === this.slabBytes && spares.length < this.maxSpareSlabs) spares.push(slab.bytes)
    while (this.slabs.length > 0 && this.slabs[0] === null) {
      this.slabs.shift()
      this.slabBase++
    }
  }

  /** Copies every message held into fresh slabs, letting go of the old ones and their holes. */
  private closeHoles (): void {
    const old = this.slabs
    const oldBase = this.slabBase
    this.slabBase += old.length
    this.slabs = []
    this.current = null
    this.heldBytes = 0
    this.dataBytes = 0
    for (let i = this.head; i < this.length; i++) {
      const block = this.block(i)
      const j = i & BLOCK_MASK
      const number = block.slabOf[j] as number
      if (number === REMOVED) continue
      const from = old[number - oldBase] as Slab
      const start = block.offset[j] as number
      this.write(block, j, from.bytes.subarray(start, start + (block.size[j] as number)))
    }
    this.compactions++
  }

  private forgetIds (nowMs: number): void {
    if (this.msgIds.size === 0) return // no publisher sent ids (and for…of would make an iterator per append)
    const window = this.config.duplicateWindowMs
    for (const [id, seen] of this.msgIds) {
      if (nowMs - seen.atMs <= window && this.msgIds.size < this.config.maxMsgIds) break
      this.msgIds.delete(id)
    }
  }
}

/**
 * The longest `Nats-Msg-Id` remembered as it is. A header may be as long as a message
 * (`--max-payload-bytes`), and ids are kept for the duplicate window by count, not by bytes: ids of
 * 256 KiB took a broker from 107 MiB to 1.8 GiB in 15 s (reports/broker/history-msg-ids.md).
 */
export const MSG_ID_KEPT_BYTES = 64

/**
 * What a stream remembers of an id: the id itself up to MSG_ID_KEPT_BYTES, past that its length
 * and SHA-256 (61 characters), so that a long id is still found again and costs no more than a
 * short one.
 */
export function msgIdKey (msgId: string): string {
  if (msgId.length <= MSG_ID_KEPT_BYTES) return msgId
  return `#${msgId.length}:${createHash('sha256').update(msgId, 'latin1').digest('base64url')}`
}

/** The limits every history stream of a broker shares (from its options). */
export type HistoryLimits = Omit<HistoryConfig, 'name' | 'subjects'>

/** The broker options a history stream is made from (`--history` and its limits). */
export interface HistoryOptions {
  history: readonly string[]
  historyMaxAgeMs: number
  historyMaxBytes: number
  historyMaxMsgsPerSubject: number
  historyDuplicateWindowMs: number
  historyMaxMsgIds: number
}

/** The history streams a broker with these options keeps. */
export function historyConfigsOf (o: HistoryOptions): HistoryConfig[] {
  return historyConfigs(o.history, {
    maxAgeMs: o.historyMaxAgeMs,
    maxBytes: o.historyMaxBytes,
    maxMsgsPerSubject: o.historyMaxMsgsPerSubject,
    duplicateWindowMs: o.historyDuplicateWindowMs,
    maxMsgIds: o.historyMaxMsgIds
  })
}

/**
 * The streams of `--history` (`name:subject` items; a name given twice keeps both subjects).
 * Throws a TypeError that says which item is wrong.
 */
export function historyConfigs (items: readonly string[], limits: HistoryLimits): HistoryConfig[] {
  const byName = new Map<string, string[]>()
  for (const item of items) {
    const colon = item.indexOf(':')
    const name = colon < 0 ? '' : item.slice(0, colon)
    const subject = colon < 0 ? '' : item.slice(colon + 1)
    if (!/^[^.*>\s:]+$/.test(name) || !isValidSubject(subject)) {
      throw new TypeError(`--history ${JSON.stringify(item)}: expected name:subject, a stream name without dots, spaces or wildcards and a valid subject (e.g. trades:trade.>)`)
    }
    const subjects = byName.get(name) ?? []
    subjects.push(subject)
    byName.set(name, subjects)
  }
  return [...byName].map(([name, subjects]) => ({ name, subjects, ...limits }))
}
