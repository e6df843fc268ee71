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
 * nothing more. UNSUB or a
 * close ends it. No gap and no duplicate: the subscription is live from its SUB, so a subject
 * updated since then has already been delivered with its newer value, and its snapshot entry
 * (no longer the cached value) is skipped; an entry is delivered only while it is still the
 * cached value.
 */
import type { Subscription } from './subscription.ts'
import type { RoutedMessage } from './wire.ts'

/** Messages of one snapshot delivered per step. */
export const SNAPSHOT_BATCH = 256
/** Snapshot messages delivered per turn across every subscription still receiving one. */
export const SNAPSHOT_TURN_BUDGET = 4096

interface Cursor {
  readonly sub: Subscription
  readonly messages: readonly RoutedMessage[]
  at: number
}

export class SnapshotQueue {
  private cursors: Cursor[] = []
  private scheduled = false
  /** Snapshot messages delivered in this turn so far (reset at its end). */
  private spent = 0
  /** Snapshot messages skipped because a live update had superseded them. */
  superseded = 0

  constructor (
    /** The cached value of a subject now. */
    private readonly current: (subject: string) => RoutedMessage | undefined,
    private readonly schedule: (run: () => void) => void = setImmediate
  ) {}

  /** A new subscription's snapshot (already in subject order): its first batch goes now. */
  start (sub: Subscription, messages: readonly RoutedMessage[]): void {
    if (messages.length === 0) return
    const cursor: Cursor = { sub, messages, at: 0 }
    const room = Math.min(SNAPSHOT_BATCH, SNAPSHOT_TURN_BUDGET - this.spent)
    if (room > 0 && !sub.client.outbox.conflating) this.spend(this.step(cursor, room))
    if (cursor.at < messages.length && !sub.closed) {
      this.cursors.push(cursor)
      this.wake()
    }
  }

  /** The subscription ended (UNSUB, its max reached, or its connection closed): its snapshot ends too. */
  ended (sub: Subscription): void {
    if (this.cursors.length > 0) this.cursors = this.cursors.filter((c) => c.sub !== sub)
  }

  /** Subscriptions still receiving a snapshot. */
  get pending (): number { return this.cursors.length }

  /** A subscriber stopped conflating: its snapshot may go on. */
  wake (): void {
    if (this.scheduled || this.cursors.length === 0) return
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
    const still: Cursor[] = []
    for (const cursor of this.cursors) {
      const { sub } = cursor
      if (sub.closed || sub.client.isClosed) continue
      if (budget > 0 && !sub.client.outbox.conflating) {
        const looked = this.step(cursor, Math.min(budget, SNAPSHOT_BATCH))
        budget -= looked
        this.spend(looked)
        progressed ||= looked > 0
      }
      if (cursor.at < cursor.messages.length && !sub.closed) still.push(cursor)
    }
    this.cursors = still
    // Those waiting for a reader to catch up are woken by it (Router.stoppedConflating).
    if (progressed) this.wake()
  }

  /** Delivers up to `max` entries; returns how many it looked at. */
  private step (cursor: Cursor, max: number): number {
    const { sub, messages } = cursor
    const end = Math.min(messages.length, cursor.at + max)
    const start = cursor.at
    for (; cursor.at < end; cursor.at++) {
      if (sub.closed) break
      const msg = messages[cursor.at] as RoutedMessage
      if (this.current(msg.subject) !== msg) { this.superseded++; continue }
      sub.client.deliver(sub, msg)
    }
    return cursor.at - start
  }
}
