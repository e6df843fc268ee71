/**
 * Fair order across workers: when a worker may deliver a message its own client published.
 *
 * The publisher's worker is already running when it has a message to deliver; every other
 * worker must first be woken to read its copy from the mesh. Delivering at once, the
 * publisher's worker wins the race for first place most of the time. No fixed delay fixes that,
 * since the other side's wake-up time varies with the machine's load. So the order is drawn
 * instead: for each message, the publisher's worker draws its place among the k other workers
 * whose subscribers want the message and delivers after that many of them have said they
 * delivered it (a DELIVERED count on the mesh, sent after their flush turn).
 *
 * Drawing place 0 does not make it first: a peer woken by the message can still flush first
 * (on a shared core the scheduler often lets the woken peer preempt the publisher's worker).
 * So the draw is steered by what it measures. After each message drawn at place 0, the next
 * event-loop step (after this worker's own flush turn, and after reading any DELIVERED that
 * arrived meanwhile) tells whether a peer had flushed first. `bias` scales the chance of place
 * 0, bias/(k+1), and moves by a small step each message towards this worker being first in
 * 1/(k+1) of them: if place 0 wins with probability q, it settles at 1/q. The other places are
 * drawn uniformly from 1..k. Its subscribers are then first in 1/(k+1) of the messages, as the
 * others' are (bench: fairness with 2 workers, first places by worker).
 *
 *   publish ──► peers ──► each flushes, then says DELIVERED(n) ──┐
 *      └──► loopback ──► held: waits for `needed` of the peers ◄─┘ ──► local flush
 *
 * Messages are released in the order they were published, so a message that must wait holds
 * back the ones behind it (their draws are for their place among workers, not among messages).
 * A peer that does not answer within maxHoldMs (stopped, far behind) does not hold local
 * subscribers hostage: what waited that long is released, and counted.
 */

/** A link to a peer, as the release sees it: how many message frames it has said it delivered. */
export interface DeliveryLink {
  readonly delivered: number
  /** The link is gone: waiting for it is pointless. */
  readonly gone: boolean
}

/** How far `bias` moves per judged message: about a hundred messages to settle, little jitter after. */
const BIAS_STEP = 0.01

interface Held<F> {
  readonly origin: unknown
  /** The peers that got the message, each with the count its DELIVERED must reach. */
  readonly waits: ReadonlyArray<{ readonly link: DeliveryLink, readonly index: number }>
  readonly needed: number
  readonly sentAtMs: number
  frame: F | null
  /** Not a message: work to run once every message before it has been delivered (afterEarlier). */
  readonly run: (() => void) | null
}

export class FairRelease<O, F> {
  private held: Array<Held<F>> = []
  private head = 0
  /** The next entry still waiting for its frame to come back through the loopback. */
  private awaitingFrame = 0
  /** Messages whose local delivery waited for at least one peer. */
  waited = 0
  /** Messages released because a peer did not say it delivered within maxHoldMs. */
  timedOut = 0
  /** Scales the chance of place 0; see the module comment. */
  bias = 1
  /** Released at place 0, to be judged one event-loop step later: were we first? */
  private unjudged: Array<Held<F>> = []

  constructor (private readonly maxHoldMs: number, private readonly random: () => number = Math.random) {}

  /**
   * A local publish went to the peers in `waits` (those whose subscribers want it) and to the
   * loopback. Draws how many of them deliver before this worker does.
   */
  sent (origin: O, waits: Held<F>['waits'], nowMs: number): void {
    const k = waits.length
    let needed = 0
    if (k > 0 && this.random() >= this.bias / (k + 1)) needed = 1 + Math.floor(this.random() * k)
    if (needed > 0) this.waited++
    this.held.push({ origin, waits, needed, sentAtMs: nowMs, frame: null, run: null })
  }

  /**
   * Runs `run` once every message sent before it has been delivered, in its place among them
   * (release), or at once by clear(). What depends on this worker's own cache holding every
   * value published here so far waits so (worker-mesh.ts, resending from the cache).
   */
  afterEarlier (run: () => void, nowMs: number): void {
    this.held.push({ origin: null, waits: [], needed: 0, sentAtMs: nowMs, frame: null, run })
  }

  /** The loopback gave back the frame of the oldest message still out. */
  arrived (frame: F): void {
    while (this.held[this.awaitingFrame]?.run != null) this.awaitingFrame++
    const entry = this.held[this.awaitingFrame]
    if (entry === undefined) return
    entry.frame = frame
    this.awaitingFrame++
  }

  /** Delivers, in order, every message whose turn has come; returns whether any still waits. */
  release (nowMs: number, deliver: (origin: O, frame: F) => void): boolean {
    while (this.head < this.held.length) {
      const entry = this.held[this.head] as Held<F>
      if (entry.run !== null) {
        this.head++ // its slot is left as it is: arrived() steps over it, perhaps later
        entry.run()
        continue
      }
      if (entry.frame === null) break
      if (!this.due(entry)) {
        if (nowMs - entry.sentAtMs < this.maxHoldMs) break
        this.timedOut++
      }
      this.held[this.head++] = undefined as unknown as Held<F>
      deliver(entry.origin as O, entry.frame)
      if (entry.waits.length > 0) {
        if (entry.needed === 0) this.unjudged.push(entry)
        else this.observe(false, entry.waits.length) // it waited for a peer's flush
      }
    }
    if (this.head >= 1024 && this.head * 2 >= this.held.length) {
      this.held = this.held.slice(this.head)
      // Work queued behind the last frame is released (head passes it) before the next frame
      // comes back, so the frame pointer may lie below head; what lies there is done (every
      // message had its frame), and the pointer starts again at the first entry kept.
      this.awaitingFrame = Math.max(0, this.awaitingFrame - this.head)
      this.head = 0
    }
    const next = this.held[this.head]
    return next !== undefined && (next.frame !== null || next.run !== null)
  }

  /** Messages released at place 0 and not yet judged: call judge() one event-loop step after release(). */
  get judging (): boolean { return this.unjudged.length > 0 }

  /**
   * After this worker's flush turn for what release() let go: was each message drawn at place 0
   * first? It was unless a peer has already said it delivered it.
   */
  judge (): void {
    for (const entry of this.unjudged) {
      const peerFirst = entry.waits.some((w) => !w.link.gone && w.link.delivered >= w.index)
      this.observe(!peerFirst, entry.waits.length)
    }
    this.unjudged = []
  }

  private observe (first: boolean, k: number): void {
    this.bias = Math.min(k + 1, Math.max(0, this.bias + BIAS_STEP * (1 - (first ? k + 1 : 0))))
  }

  /** When the oldest waiting message must go at the latest (host clock, ms); null when none waits. */
  deadline (): number | null {
    const entry = this.held[this.head]
    return entry === undefined || (entry.frame === null && entry.run === null) ? null : entry.sentAtMs + this.maxHoldMs
  }

  get size (): number { return this.held.length - this.head }

  /** The loopback is gone: nothing held will come back. Work waiting in afterEarlier runs now. */
  clear (): void {
    const runs = this.held.slice(this.head).filter((e) => e?.run != null)
    this.unjudged = []
    this.held = []
    this.head = 0
    this.awaitingFrame = 0
    for (const entry of runs) (entry.run as () => void)()
  }

  private due (entry: Held<F>): boolean {
    if (entry.needed === 0) return true
    let done = 0
    for (const w of entry.waits) if (w.link.gone || w.link.delivered >= w.index) done++
    return done >= entry.needed
  }
}
