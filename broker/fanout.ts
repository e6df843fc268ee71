/**
 * Fair fan-out: when connections are served.
 *
 * Deliveries only append to outboxes; the socket writes happen in a flush turn, scheduled once
 * (setImmediate) by the first connection that became dirty, so every connection gets at most
 * one write per turn and a burst of publishes read from one socket chunk is coalesced.
 *
 * Within a turn the dirty connections are served in a freshly shuffled order (Fisher-Yates),
 * so no subscriber is systematically first, whatever its connect or subscribe order: the
 * failure SEBI documented for NSE's tick-by-tick feed, and what socket.io's insertion-ordered
 * rooms do. Each connection's first places and mean rank are recorded so the broker can show
 * its fairness.
 */

export interface FanoutMember {
  /** Writes what is pending; called once per turn the member was marked dirty in. */
  flush (): void
  /** Set by the scheduler while the member waits in the current turn. */
  queuedForFlush: boolean
  readonly fairness: FairnessRecord
}

/** One connection's record of where it was served in turns with at least two members. */
export class FairnessRecord {
  turns = 0
  firstPlaces = 0
  /** Sum of normalised ranks: 0 = served first, 1 = served last. */
  rankSum = 0

  get firstShare (): number {
    return this.turns === 0 ? 0 : this.firstPlaces / this.turns
  }

  get meanRank (): number {
    return this.turns === 0 ? 0.5 : this.rankSum / this.turns
  }
}

export interface FanoutOptions {
  /** How a turn is scheduled. Default setImmediate (after this loop iteration's I/O). */
  schedule?: (run: () => void) => void
  /** Uniform random numbers in [0, 1). Default Math.random. */
  random?: () => number
  /** Whether to shuffle the order of service each turn. Default true; off only to measure. */
  shuffle?: boolean
}

export class FanoutScheduler {
  private dirty: FanoutMember[] = []
  private spare: FanoutMember[] = []
  private scheduled = false
  private readonly schedule: (run: () => void) => void
  private readonly random: () => number
  private readonly shuffle: boolean
  private readonly runTurn = (): void => { this.turn() }
  turns = 0

  constructor (options: FanoutOptions = {}) {
    this.schedule = options.schedule ?? setImmediate
    this.random = options.random ?? Math.random
    this.shuffle = options.shuffle ?? true
  }

  markDirty (member: FanoutMember): void {
    if (member.queuedForFlush) return
    member.queuedForFlush = true
    this.dirty.push(member)
    if (!this.scheduled) {
      this.scheduled = true
      this.schedule(this.runTurn)
    }
  }

  /** Serves every dirty member once, in shuffled order. Public for tests and shutdown. */
  turn (): void {
    this.scheduled = false
    const members = this.dirty
    if (members.length === 0) return
    // Swap lists so members marked dirty while flushing land in the next turn.
    this.dirty = this.spare
    this.spare = members
    const n = members.length
    if (this.shuffle) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1))
        const t = members[i] as FanoutMember
        members[i] = members[j] as FanoutMember
        members[j] = t
      }
    }
    this.turns++
    for (let i = 0; i < n; i++) {
      const member = members[i] as FanoutMember
      member.queuedForFlush = false
      if (n > 1) {
        const record = member.fairness
        record.turns++
        record.rankSum += i / (n - 1)
        if (i === 0) record.firstPlaces++
      }
      // One member's failure must never skip the others: flush() handles its own errors.
      member.flush()
    }
    members.length = 0
  }
}

/** Jain's fairness index over non-negative shares: 1 when equal, 1/n when one takes all. */
export function jainIndex (values: readonly number[]): number {
  let sum = 0
  let sumSq = 0
  for (const v of values) {
    sum += v
    sumSq += v * v
  }
  return sumSq === 0 ? 1 : (sum * sum) / (values.length * sumSq)
}
