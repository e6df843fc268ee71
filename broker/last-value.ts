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
  /** Sorted subjects matching a wildcard pattern, as of `membership`. */
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
      this.membership++
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
   * until it is rebuilt, up to the cache's size per eviction (39 us an eviction at 100,000
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
    this.membership++
    this.bytes -= victim.bodyLength
    this.evicted++
  }

  get (subject: string): RoutedMessage | undefined {
    return this.values.get(subject)
  }

  /** Every cached value whose subject matches `pattern` (wildcards allowed), in subject order. */
  snapshot (pattern: string): RoutedMessage[] {
    const out: RoutedMessage[] = []
    for (const subject of this.subjectsMatching(pattern)) out.push(this.values.get(subject) as RoutedMessage)
    return out
  }

  /**
   * The cached subjects matching `pattern`, in subject order. A wildcard's list is computed once
   * and kept until a subject enters or leaves the cache: a flood of SUBs to `quote.>` costs one
   * scan of the cache, not one each (the list is shared; never change it).
   */
  subjectsMatching (pattern: string): readonly string[] {
    this.lastScanned = 0
    if (!hasWildcardToken(pattern)) return this.values.has(pattern) ? [pattern] : []
    const known = this.matching.get(pattern)
    if (known !== undefined && known.membership === this.membership) return known.subjects
    this.lastScanned = this.values.size
    const subjects: string[] = []
    for (const subject of this.values.keys()) if (subjectMatches(pattern, subject)) subjects.push(subject)
    subjects.sort()
    if (this.matching.size >= MAX_PATTERNS_KEPT) this.matching.clear()
    this.matching.set(pattern, { membership: this.membership, subjects })
    return subjects
  }

  delete (subject: string): boolean {
    const current = this.values.get(subject)
    if (current === undefined) return false
    this.bytes -= current.bodyLength
    this.membership++
    return this.values.delete(subject)
  }
}
