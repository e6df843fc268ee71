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
 */
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

export interface AppendResult {
  seq: number
  duplicate: boolean
}

interface SubjectState {
  count: number
  last: number
  /** Its sequences, oldest first (kept only with a per-subject limit). */
  seqs: number[] | null
}

export class HistoryStream {
  readonly createdMs: number
  /** Messages, by `seq - base`; a removed one leaves undefined until the front passes it. */
  private entries: Array<StoredMessage | undefined> = []
  private base = 1
  private head = 0
  private nextSeq = 1
  private readonly subjectsState = new Map<string, SubjectState>()
  private readonly msgIds = new Map<string, { seq: number, atMs: number }>()
  private lastTimeMs = 0
  private sameMsCount = 0
  /** Messages and bytes held now. */
  messages = 0
  bytes = 0
  /** Messages removed before the front (per-subject limit): holes in the sequence. */
  deleted = 0
  /** Messages removed by each limit, and duplicates refused, since the start. */
  readonly removed = { age: 0, bytes: 0, perSubject: 0 }
  duplicates = 0
  /** Called with each message as it leaves (consumers keep their pending counts with it). */
  onRemove: ((msg: StoredMessage) => void) | null = null

  constructor (readonly config: HistoryConfig, nowMs: number) {
    this.createdMs = nowMs
  }

  /** Whether this stream keeps `subject`. */
  captures (subject: string): boolean {
    const subjects = this.config.subjects
    for (let i = 0; i < subjects.length; i++) if (subjectMatches(subjects[i] as string, subject)) return true
    return false
  }

  /** Stores a message, unless its id was seen within the duplicate window. */
  append (subject: string, data: Buffer, headerBytes: number, msgId: string | undefined, nowMs: number): AppendResult {
    this.forgetIds(nowMs)
    // Before the duplicate check: a refused duplicate still moves time on for what is kept.
    this.expire(nowMs)
    if (msgId !== undefined) {
      const seen = this.msgIds.get(msgId)
      if (seen !== undefined) {
        this.duplicates++
        return { seq: seen.seq, duplicate: true }
      }
    }
    const seq = this.nextSeq++
    if (nowMs === this.lastTimeMs) this.sameMsCount++
    else { this.lastTimeMs = nowMs; this.sameMsCount = 0 }
    // A copy of its own: `data` may be a slice of a buffer shared with other messages.
    const own = Buffer.allocUnsafeSlow(data.length)
    data.copy(own)
    const msg: StoredMessage = {
      seq,
      subject,
      data: own,
      headerBytes,
      timeMs: nowMs,
      timeNs: `${nowMs}${String(this.sameMsCount % 1_000_000).padStart(6, '0')}`,
      bytes: subject.length + data.length
    }
    if (this.entries.length === 0) this.base = seq
    this.entries.push(msg)
    this.messages++
    this.bytes += msg.bytes
    if (msgId !== undefined) this.msgIds.set(msgId, { seq, atMs: nowMs })
    let state = this.subjectsState.get(subject)
    if (state === undefined) {
      state = { count: 0, last: 0, seqs: this.config.maxMsgsPerSubject > 0 ? [] : null }
      this.subjectsState.set(subject, state)
    }
    state.count++
    state.last = seq
    state.seqs?.push(seq)
    if (state.seqs !== null && state.count > this.config.maxMsgsPerSubject) {
      this.removeOne(state.seqs[0] as number, 'perSubject')
    }
    while (this.bytes > this.config.maxBytes && this.messages > 1) this.removeOne(this.firstSeq, 'bytes')
    return { seq, duplicate: false }
  }

  /** Removes what is older than the age limit. */
  expire (nowMs: number): void {
    const maxAge = this.config.maxAgeMs
    if (maxAge <= 0) return
    for (let first = this.first(); first !== undefined && nowMs - first.timeMs > maxAge; first = this.first()) {
      this.removeOne(first.seq, 'age')
    }
  }

  /** The sequence a message id was stored as, if within the duplicate window. */
  seenId (msgId: string, nowMs: number): number | undefined {
    this.forgetIds(nowMs)
    return this.msgIds.get(msgId)?.seq
  }

  get (seq: number): StoredMessage | undefined {
    const i = seq - this.base
    return i >= this.head && i < this.entries.length ? this.entries[i] : undefined
  }

  /** The first message at or after `seq` whose subject `filter` matches (any with no filter). */
  nextFrom (seq: number, filter: string | null): StoredMessage | undefined {
    for (let i = Math.max(seq - this.base, this.head); i < this.entries.length; i++) {
      const msg = this.entries[i]
      if (msg !== undefined && (filter === null || subjectMatches(filter, msg.subject))) return msg
    }
    return undefined
  }

  /** Messages at or after `seq` that `filter` matches. */
  countFrom (seq: number, filter: string | null): number {
    if (filter === null && seq <= this.firstSeq) return this.messages
    let n = 0
    for (let i = Math.max(seq - this.base, this.head); i < this.entries.length; i++) {
      const msg = this.entries[i]
      if (msg !== undefined && (filter === null || subjectMatches(filter, msg.subject))) n++
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
    for (let i = this.head; i < this.entries.length; i++) {
      const msg = this.entries[i]
      if (msg !== undefined && msg.timeMs >= ms) return msg.seq
    }
    return this.nextSeq
  }

  /** First sequence held (the next one to be stored when empty). */
  get firstSeq (): number {
    return this.first()?.seq ?? this.nextSeq
  }

  /** Last sequence stored (0 before the first). */
  get lastSeq (): number {
    return this.nextSeq - 1
  }

  get subjectCount (): number {
    return this.subjectsState.size
  }

  get firstMessage (): StoredMessage | undefined {
    return this.first()
  }

  get lastMessage (): StoredMessage | undefined {
    return this.get(this.lastSeq)
  }

  private first (): StoredMessage | undefined {
    while (this.head < this.entries.length && this.entries[this.head] === undefined) {
      this.head++
      this.deleted--
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.base += this.head
      this.head = 0
    }
    return this.entries[this.head]
  }

  private removeOne (seq: number, why: 'age' | 'bytes' | 'perSubject'): void {
    const i = seq - this.base
    const msg = this.entries[i]
    if (msg === undefined) return
    this.entries[i] = undefined
    if (i === this.head) this.head++
    else this.deleted++
    this.messages--
    this.bytes -= msg.bytes
    this.removed[why]++
    const state = this.subjectsState.get(msg.subject) as SubjectState
    state.count--
    if (state.seqs !== null) {
      const at = state.seqs.indexOf(seq)
      if (at >= 0) state.seqs.splice(at, 1)
    }
    if (state.count === 0) this.subjectsState.delete(msg.subject)
    this.onRemove?.(msg)
  }

  private forgetIds (nowMs: number): void {
    const window = this.config.duplicateWindowMs
    for (const [id, seen] of this.msgIds) {
      if (nowMs - seen.atMs <= window && this.msgIds.size < this.config.maxMsgIds) break
      this.msgIds.delete(id)
    }
  }
}

/** The limits every history stream of a broker shares (from its options). */
export type HistoryLimits = Omit<HistoryConfig, 'name' | 'subjects'>

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
