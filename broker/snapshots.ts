/**
 * Snapshots on subscribe, in bounded work per turn. A subscription to a wildcard over a large
 * cache would otherwise copy the whole cache into one outbox in one synchronous step: 300 SUBs
 * of `quote.>` over 20,000 subjects stalled a broker for seconds and grew it by a gigabyte.
 *
 * A snapshot up to SNAPSHOT_BATCH messages is delivered at once, in the SUB's own step, as
 * before. A larger one delivers its first batch at once and the rest in later turns. At most
 * SNAPSHOT_TURN_BUDGET snapshot messages go out per turn across all subscriptions, first
 * batches included (past it, a snapshot starts in the next turn), and a snapshot goes on only
 * while its subscriber reads (its outbox is not conflating): one that does not read costs
 * nothing more. UNSUB or a close ends it, in constant time.
 *
 * A snapshot is a list of subjects (shared by every SUB of the same pattern until a subject
 * enters or leaves the cache: last-value.ts) and the cache's store count at the SUB; each step
 * delivers the subject's value now cached. No gap and no duplicate: the subscription is live
 * from its SUB, so a value stored since then has already been delivered live, and is skipped;
 * one stored before it is delivered, once.
 */
import type { Subscription } from './subscription.ts'
import type { RoutedMessage } from './wire.ts'

/** Messages of one snapshot delivered per step. */
export const SNAPSHOT_BATCH = 256
/** Snapshot messages delivered per turn across every subscription still receiving one. */
export const SNAPSHOT_TURN_BUDGET = 4096

interface Cursor {
  readonly sub: Subscription
  readonly subjects: readonly string[]
  /** The cache's store count at the SUB: values stored later went out live. */
  readonly since: number
  at: number
}

export class SnapshotQueue {
  /** Snapshots still going, in the order they began. */
  private cursors = new Map<Subscription, Cursor>()
  private scheduled = false
  /** Snapshot messages delivered in this turn so far (reset at its end). */
  private spent = 0
  /** Snapshot entries skipped because a live update had superseded them. */
  superseded = 0

  constructor (
    /** The cached value of a subject now. */
    private readonly current: (subject: string) => RoutedMessage | undefined,
    private readonly schedule: (run: () => void) => void = setImmediate
  ) {}

  /**
   * A new subscription's snapshot: `subjects` (each once, in any order) as cached when the cache had
   * made `since` stores. Its first batch goes now.
   */
  start (sub: Subscription, subjects: readonly string[], since: number): void {
    if (subjects.length === 0) return
    const cursor: Cursor = { sub, subjects, since, at: 0 }
    const room = Math.min(SNAPSHOT_BATCH, SNAPSHOT_TURN_BUDGET - this.spent)
    if (room > 0 && !sub.client.outbox.conflating) this.spend(this.step(cursor, room))
    if (cursor.at < subjects.length && !sub.closed) {
      this.cursors.set(sub, cursor)
      this.wake()
    }
  }

  /** The subscription ended (UNSUB, its max reached, or its connection closed): its snapshot ends too. */
  ended (sub: Subscription): void {
    this.cursors.delete(sub)
  }

  /** Subscriptions still receiving a snapshot. */
  get pending (): number { return this.cursors.size }

  /** A subscriber stopped conflating: its snapshot may go on. */
  wake (): void {
    if (this.scheduled || this.cursors.size === 0) return
    this.scheduled = true
    this.schedule(this.turn)
  }

  private spend (n: number): void {
    if (n > 0 && this.spent === 0) this.schedule(() => { this.spent = 0 })
    this.spent += n
  }

  private readonly turn = (): void => {
    this.scheduled = false
    let budget = SNAPSHOT_TURN_BUDGET - this.spent
    let progressed = false
    for (const [sub, cursor] of this.cursors) {
      if (budget <= 0) break
      if (sub.closed || sub.client.isClosed) { this.cursors.delete(sub); continue }
      if (sub.client.outbox.conflating) continue
      const looked = this.step(cursor, Math.min(budget, SNAPSHOT_BATCH))
      budget -= looked
      this.spend(looked)
      progressed ||= looked > 0
      if (cursor.at >= cursor.subjects.length || sub.closed) this.cursors.delete(sub)
    }
    // Those waiting for a reader to catch up are woken by it (Router.stoppedConflating).
    if (progressed) this.wake()
  }

  /** Delivers up to `max` entries; returns how many it looked at. */
  private step (cursor: Cursor, max: number): number {
    const { sub, subjects, since } = cursor
    const end = Math.min(subjects.length, cursor.at + max)
    const start = cursor.at
    for (; cursor.at < end; cursor.at++) {
      if (sub.closed) break
      const msg = this.current(subjects[cursor.at] as string)
      if (msg === undefined || msg.cacheOrder > since) { this.superseded++; continue }
      sub.client.deliver(sub, msg)
      msg.dropFrame() // a cached message keeps no frame
    }
    return cursor.at - start
  }
}
