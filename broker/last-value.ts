/**
 * The last-value cache: the newest message of every last-value subject.
 *
 * Ordering: a publisher may put its own sequence in the `Tickfan-Seq` header (an integer that
 * grows per subject). A message whose sequence is lower than the cached one is older than what
 * subscribers already have: it is dropped and counted, never delivered. An equal sequence is an
 * idempotent re-publish of the same state (the feed handlers' heartbeat) and is accepted.
 * Messages without the header are ordered by arrival. A cached sequence keeps lower ones out for
 * `sequenceHoldMs` after it arrived: a value that has stood unreplaced that long gives way to a
 * lower sequence, so a publisher that restarted with a lower counter, or a sequence sent far
 * ahead (`Tickfan-Seq: 9007199254740991`), cannot pin a subject until the broker restarts.
 *
 * Memory is bounded by `maxSubjects` and by `maxBytes` (message bodies): past either, an
 * approximately least recently updated subject is evicted (the stalest of a sample of
 * EVICTION_SAMPLE subjects, taken in turn through the cache in insertion order, as Redis
 * samples), until the cache is within both again.
 *
 * Updates overwrite the Map entry in place. Moving the subject to the end (delete + set) would
 * give exact LRU order, but V8's ordered hash table then keeps every superseded message alive
 * across young-generation collections: measured with `node --trace-gc-nvp` under
 * `bench/drive` at 40k quotes/s, 2.5 MB promoted per scavenge and 7-17 ms pauses, against 0 B
 * and 0.5 ms with the overwrite (see bench/micro/publish-path.ts and ARCHITECTURE.md).
 */
import { subjectMatches, hasWildcardToken } from './subjects.ts'
import type { RoutedMessage } from './wire.ts'

export interface LastValueCacheOptions {
  /** Subjects kept at most; the least recently updated is evicted past it. Default 100000. */
  maxSubjects?: number
  /** Message bytes (headers and payloads) kept at most. Default 256 MiB. */
  maxBytes?: number
  /** How long a cached sequence refuses lower ones, in ms. Default 30000. */
  sequenceHoldMs?: number
}

export type OfferResult = 'stored' | 'older'

const EVICTION_SAMPLE = 16
/** Membership changes kept, so that a wildcard's list is brought up to date by them (subjectsMatching). */
const CHANGES_KEPT = 1024
/** A subject copied into a merged list costs about 1/COPIES_PER_SCAN of one matched in a scan (lastScanned). */
const COPIES_PER_SCAN = 5
/**
 * Up to this many subjects leaving, a merge finds each in the copied list and splices it out
 * (a search and a move each, in the runtime); past it, one pass over the list keeps the rest.
 */
const FOUND_REMOVALS = 16

/** Wildcard patterns whose subject lists are kept (all are dropped when it is reached). */
const MAX_PATTERNS_KEPT = 256

export class LastValueCache {
  private readonly values = new Map<string, RoutedMessage>()
  private readonly maxSubjects: number
  private readonly maxBytes: number
  private readonly sequenceHoldMs: number
  olderDropped = 0
  evicted = 0
  bytes = 0
  /** Values stored so far: each stored message's cacheOrder. */
  stores = 0
  /** Bumped whenever a subject enters or leaves the cache: the subject lists below stay valid until then. */
  private membership = 0
  /**
   * Subjects the last subjectsMatching() call looked at: the whole cache when it computed a
   * wildcard's list afresh, else 0. What a SUB cost, for its client's rate limit (client.ts).
   */
  lastScanned = 0
  /** Where the next eviction's sample starts (evictStalest); null before the first. */
  private evictionCursor: MapIterator<RoutedMessage> | null = null
  /** The subjects of the last CHANGES_KEPT membership changes, at membership % CHANGES_KEPT. */
  private readonly changed: string[] = new Array<string>(CHANGES_KEPT).fill('')
  /** Whether each of those changes was the subject entering (1) or leaving (0) the cache. */
  private readonly entered = new Uint8Array(CHANGES_KEPT)
  /** The subjects matching a wildcard pattern, as of `membership`, in no particular order. */
  private readonly matching = new Map<string, { membership: number, subjects: readonly string[] }>()

  constructor (options: LastValueCacheOptions = {}) {
    this.maxSubjects = options.maxSubjects ?? 100_000
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024
    this.sequenceHoldMs = options.sequenceHoldMs ?? 30_000
  }

  get size (): number {
    return this.values.size
  }

  /** Stores `msg` as the newest value of its subject unless it is older than the cached one. */
  offer (msg: RoutedMessage): OfferResult {
    const current = this.values.get(msg.subject)
    if (current !== undefined) {
      if (msg.sequence !== undefined && current.sequence !== undefined && msg.sequence < current.sequence &&
        msg.publishedAtMs - current.publishedAtMs < this.sequenceHoldMs) {
        this.olderDropped++
        return 'older'
      }
      this.bytes -= current.bodyLength
    } else {
      if (this.values.size >= this.maxSubjects) this.evictStalest()
      this.noteChange(msg.subject, 1)
    }
    const kept = msg.retain() // cached past its publish call
    kept.cacheOrder = ++this.stores
    this.values.set(kept.subject, kept)
    this.bytes += kept.bodyLength
    while (this.bytes > this.maxBytes && this.values.size > 1) this.evictStalest()
    return 'stored'
  }

  /**
   * Evicts the least recently updated of the next EVICTION_SAMPLE subjects after the last sample,
   * in insertion order, starting over at the end. The cursor is kept between evictions: a fresh
   * iteration from the start walks past every deleted entry V8's ordered hash table still holds
   * until it is rebuilt, up to the cache's size per eviction (52-54 us an eviction at 100,000
   * subjects, bench/micro/last-value-eviction.ts; reports/broker/last-value-sprawl.md).
   */
  private evictStalest (): void {
    let victim: RoutedMessage | undefined
    let cursor = this.evictionCursor ?? this.values.values()
    let restarted = this.evictionCursor === null
    for (let seen = 0; seen < EVICTION_SAMPLE;) {
      const next = cursor.next()
      if (next.done === true) {
        if (restarted) break // the whole cache is smaller than a sample
        cursor = this.values.values()
        restarted = true
        continue
      }
      const candidate = next.value
      if (victim === undefined || candidate.publishedAtMs < victim.publishedAtMs) victim = candidate
      seen++
    }
    this.evictionCursor = cursor
    if (victim === undefined) return
    this.values.delete(victim.subject)
    this.noteChange(victim.subject, 0)
    this.bytes -= victim.bodyLength
    this.evicted++
  }

  get (subject: string): RoutedMessage | undefined {
    return this.values.get(subject)
  }

  /**
   * Every cached value whose subject matches `pattern` (wildcards allowed), each once, in the
   * order of subjectsMatching.
   */
  snapshot (pattern: string): RoutedMessage[] {
    const out: RoutedMessage[] = []
    for (const subject of this.subjectsMatching(pattern)) out.push(this.values.get(subject) as RoutedMessage)
    return out
  }

  /** A subject entered (1) or left (0) the cache: the membership moves on, and the change is kept. */
  private noteChange (subject: string, entered: 0 | 1): void {
    const at = ++this.membership % CHANGES_KEPT
    this.changed[at] = subject
    this.entered[at] = entered
  }

  /**
   * The cached subjects matching `pattern`, each once: for a wildcard, in the order the cache
   * holds them (about the order they first entered it), not sorted. A wildcard's list is
   * computed once and kept while no subject enters or leaves the cache: a flood of SUBs to
   * `quote.>` costs one scan of the cache, not one each (the list is shared; never change it).
   * After at most CHANGES_KEPT changes, a new list is the old one without the subjects that left
   * and with those that entered, not a scan of the whole cache.
   *
   * Not sorted: a sort was most of what a fresh list cost, in one turn of the broker
   * (reports/broker/snapshot-churn.md, "Many connections").
   */
  subjectsMatching (pattern: string): readonly string[] {
    this.lastScanned = 0
    if (!hasWildcardToken(pattern)) return this.values.has(pattern) ? [pattern] : []
    const known = this.matching.get(pattern)
    if (known !== undefined && known.membership === this.membership) return known.subjects
    if (known !== undefined && this.membership - known.membership <= CHANGES_KEPT) {
      const subjects = this.brought(pattern, known.subjects, known.membership)
      this.matching.set(pattern, { membership: this.membership, subjects })
      return subjects
    }
    this.lastScanned = this.values.size
    // Room for every subject at once: pushing 100,000 into a growing array took longer than matching them.
    const subjects = new Array<string>(this.values.size)
    let matched = 0
    for (const subject of this.values.keys()) if (subjectMatches(pattern, subject)) subjects[matched++] = subject
    subjects.length = matched
    if (this.matching.size >= MAX_PATTERNS_KEPT) this.matching.clear()
    this.matching.set(pattern, { membership: this.membership, subjects })
    return subjects
  }

  /**
   * `old`, the list of `pattern` as of membership `since`, brought up to now by the changes
   * since: a new list (old ones stay as they are, for the snapshots that hold them). A changed
   * subject was cached at `since` exactly when its first change after it was leaving, so old
   * holds it exactly when that is so and it matches: no search of old is needed. Sets
   * lastScanned to what the work is worth in subjects scanned.
   */
  private brought (pattern: string, old: readonly string[], since: number): readonly string[] {
    const seen = new Set<string>()
    const added: string[] = []
    let removed: Set<string> | null = null
    for (let m = since + 1; m <= this.membership; m++) {
      const at = m % CHANGES_KEPT
      const subject = this.changed[at] as string
      if (seen.has(subject)) continue
      seen.add(subject)
      if (!subjectMatches(pattern, subject)) continue
      const was = this.entered[at] === 0
      const is = this.values.has(subject)
      if (is && !was) added.push(subject)
      else if (!is && was) (removed ??= new Set()).add(subject)
    }
    this.lastScanned = seen.size
    if (added.length === 0 && removed === null) return old
    this.lastScanned += Math.ceil(old.length / COPIES_PER_SCAN)
    const subjects = old.concat(added) // one copy: the runtime's, as fast as a slice
    if (removed === null) return subjects
    if (removed.size <= FOUND_REMOVALS) {
      for (const subject of removed) {
        const at = subjects.indexOf(subject) // old holds it (see above); never splice from -1, the end
        if (at !== -1) subjects.splice(at, 1)
      }
      return subjects
    }
    let kept = 0
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[i] as string
      if (!removed.has(subject)) subjects[kept++] = subject
    }
    subjects.length = kept
    return subjects
  }

  delete (subject: string): boolean {
    const current = this.values.get(subject)
    if (current === undefined) return false
    this.bytes -= current.bodyLength
    this.noteChange(subject, 0)
    return this.values.delete(subject)
  }
}
