/**
 * Input never outruns output. A broker on one event loop reads, routes and writes in turns:
 * libuv reads a busy socket up to 32 chunks of 64 KiB per poll, and the flush turn
 * (fanout.ts) runs only after the poll. Unbounded, a publisher at full speed keeps the flush
 * turns waiting while its input is parsed, and its subscribers, reading as fast as they can,
 * look like slow consumers because nothing is written to them. Two rules keep the turns fair:
 *
 * 1. Read budget. A connection that has handed READ_BUDGET_BYTES to the parser since it last
 *    paused, or READ_BUDGET_MIN_BYTES over READ_BUDGET_MS or more, stops reading until the end
 *    of this event-loop turn, after the flush turn. Its socket keeps what it sends meanwhile,
 *    and TCP slows it down when that fills up.
 * 2. Rate limit (`--max-in-msgs-per-sec`, off by default). A connection over it stops reading
 *    until its one-second window ends (rate-limit.ts): slowed, never dropped.
 * 3. Hold back. A plain or event message that leaves a subscriber with more undelivered events
 *    than half the slow-consumer limit (`maxPendingEventBytes`) pauses its publisher's reads
 *    until that subscriber catches up (it stops conflating), as nats-server stalls a producer
 *    whose consumer is half full. A hold lasts at most MAX_HOLD_MS: a subscriber that has not
 *    caught up by then is stuck, not slow, and holds nobody back again until it catches up; the
 *    slow-consumer limit cuts it off as before. Last values never hold a publisher back: they
 *    conflate.
 *
 *   publisher ─► receive ─► budget spent? ─► pause ─► (flush turn) ─► resume at turn end
 *                  └► route ─► subscriber half full of events? ─► pause until it drains
 */

/**
 * Bytes a connection may hand the parser before it waits for the next turn: 1 MiB, sixteen of
 * libuv's 64 KiB reads, while they come fast. With one read a turn, a broker that fell behind
 * a fast publisher paid a turn's fixed costs (the pause and resume, a wake-up, each
 * subscriber's socket write) for every 64 KiB it caught up, and did not catch up: under a
 * quarter-core quota at 200,000 msgs/s it passed the max-throughput search's 100 ms p99 in
 * none of 24 rounds, and with 1 MiB (and events written past the flow window) in three of ten,
 * its median p99 a quarter of the other's (reports/broker/history-fill.md, section 10, with the
 * rounds of the time bound below). A turn's writes stay bounded: a connection
 * whose turn passes the high-water mark is flushed at once (ClientWriter.turnFull).
 */
export const READ_BUDGET_BYTES = 1024 * 1024
/**
 * ...and its time: past READ_BUDGET_MIN_BYTES (one read, the budget before 1 MiB) a connection
 * whose reads since it last paused began READ_BUDGET_MS of the process's CPU time ago or more
 * waits for the next turn, so that one publisher's turn keeps the others waiting about as long
 * as one read did. CPU time, not the wall clock: under a CPU quota the wall clock jumps at
 * every stop of the quota, and a wall-clock bound ended a catching-up broker's turns there
 * (reports/broker/history-fill.md, section 10).
 */
export const READ_BUDGET_MIN_BYTES = 64 * 1024
export const READ_BUDGET_MS = 2

/** The process's CPU time so far (user and system, every thread), in ms: a system call (getrusage). */
export function processCpuMs (): number {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}

/** Monotonic wall-clock time in ms (no system call). */
function wallClockMs (): number {
  return performance.now()
}

/**
 * How often the read budget's clock asks the system for the process's CPU time: at most once per
 * this much wall time. Asked at every socket read, getrusage (which sums every thread of the
 * process) was about 5% of a capped broker's samples at 80,000 msgs/s (reports/broker/cpu-clock.md).
 */
export const CPU_CLOCK_REFRESH_MS = 1

/**
 * A CPU clock that reads `systemCpuMs` at most every `refreshMs` of wall time (`wallMs`), and in
 * between gives the last reading plus the wall time since. Between readings the process is
 * running (it is reading sockets), so wall time is its main thread's CPU time; a stop of the
 * quota makes the wall clock jump by more than `refreshMs`, and the next call reads the system
 * again, so no stop counts as CPU time for longer than `refreshMs`.
 */
export function cachedCpuClock (
  refreshMs: number = CPU_CLOCK_REFRESH_MS,
  wallMs: () => number = wallClockMs,
  systemCpuMs: () => number = processCpuMs
): () => number {
  let readAtWallMs = Number.NEGATIVE_INFINITY
  let readCpuMs = 0
  return () => {
    const wall = wallMs()
    const since = wall - readAtWallMs
    if (since < refreshMs && since >= 0) return readCpuMs + since
    readAtWallMs = wall
    readCpuMs = systemCpuMs()
    return readCpuMs
  }
}

/** The clock every connection's read budget is measured by (one per process: what it reads is the process's). */
const READ_BUDGET_CLOCK = cachedCpuClock()
/** The longest one subscriber that does not catch up holds a publisher back. */
export const MAX_HOLD_MS = 100

/** A connection whose reads can be paused. */
export interface Pausable {
  pauseReading (): void
  resumeReading (): void
}

/** One connection's side of the read budget: bytes read since its reads last paused, and whether they are. */
export class ReadGate {
  private sincePause = 0
  /** When the first of those bytes came: by the read budget's CPU clock, and by the wall clock (ms). */
  private firstReadMs = 0
  private firstReadWallMs = 0
  private paused = false

  constructor (private readonly reads: Pausable) {}

  /**
   * Counts bytes handed to the parser; true when they spend the budget (the caller tells the
   * pacing). `now` (CPU time, ms) is read at the first read after a pause, and past
   * READ_BUDGET_MIN_BYTES only once READ_BUDGET_MS of wall time (`wall`) have passed since:
   * the process's main thread cannot have used more CPU time than that.
   */
  spent (bytes: number, now: () => number = READ_BUDGET_CLOCK, wall: () => number = wallClockMs): boolean {
    if (this.sincePause === 0) {
      this.firstReadMs = now()
      this.firstReadWallMs = wall()
    }
    this.sincePause += bytes
    if (this.sincePause < READ_BUDGET_MIN_BYTES) return false
    if (this.sincePause < READ_BUDGET_BYTES &&
      (wall() - this.firstReadWallMs < READ_BUDGET_MS || now() - this.firstReadMs < READ_BUDGET_MS)) return false
    this.sincePause = 0
    return true
  }

  pause (): void {
    if (this.paused) return
    this.paused = true
    this.reads.pauseReading()
  }

  resume (): void {
    if (!this.paused) return
    this.paused = false
    this.reads.resumeReading()
  }
}

interface Hold<C> {
  readonly sinceMs: number
  /** The subscribers this publisher waits for. */
  readonly behind: Set<C>
}

export class InputPacing<C extends Pausable> {
  private waitingForTurnEnd: C[] = []
  private turnEndScheduled = false
  private readonly holds = new Map<C, Hold<C>>()
  /** Subscribers that did not catch up within MAX_HOLD_MS: they hold no one back until they do. */
  private readonly stuck = new Set<C>()
  private holdTimer: NodeJS.Timeout | null = null
  /** Connections paused by their rate limit, until their window ends. */
  private readonly throttled = new Map<C, NodeJS.Timeout>()
  /** Times a publisher was held back for a subscriber, and holds that ran out. */
  heldBack = 0
  holdsExpired = 0

  constructor (
    private readonly now: () => number,
    private readonly schedule: (run: () => void) => void = setImmediate
  ) {}

  /** The connection spent its read budget: it reads again at the end of this turn. */
  budgetSpent (connection: C): void {
    connection.pauseReading()
    this.waitingForTurnEnd.push(connection)
    if (this.turnEndScheduled) return
    this.turnEndScheduled = true
    this.schedule(this.turnEnded)
  }

  private readonly turnEnded = (): void => {
    this.turnEndScheduled = false
    const connections = this.waitingForTurnEnd
    this.waitingForTurnEnd = []
    for (const c of connections) if (!this.holds.has(c) && !this.throttled.has(c)) c.resumeReading()
  }

  /** The connection went over its rate limit: it reads again at `untilMs` (host clock). */
  pauseUntil (connection: C, untilMs: number): void {
    if (this.throttled.has(connection)) return
    connection.pauseReading()
    this.throttled.set(connection, setTimeout(() => {
      this.throttled.delete(connection)
      if (!this.holds.has(connection)) connection.resumeReading()
    }, Math.max(1, untilMs - this.now())))
  }

  /** A message from `publisher` left `subscriber` half full of undelivered events. */
  holdBack (publisher: C, subscriber: C): void {
    if (publisher === subscriber || this.stuck.has(subscriber)) return
    let hold = this.holds.get(publisher)
    if (hold === undefined) {
      hold = { sinceMs: this.now(), behind: new Set() }
      this.holds.set(publisher, hold)
      publisher.pauseReading()
      this.heldBack++
      this.holdTimer ??= setTimeout(this.expire, MAX_HOLD_MS)
    }
    hold.behind.add(subscriber)
  }

  /** The subscriber caught up (stopped conflating): publishers waiting only for it read again. */
  caughtUp (subscriber: C): void {
    this.stuck.delete(subscriber)
    if (this.holds.size === 0) return
    for (const [publisher, hold] of this.holds) {
      if (hold.behind.delete(subscriber) && hold.behind.size === 0) this.release(publisher)
    }
  }

  /** The connection closed: it waits for nothing, and nothing waits for it. */
  closed (connection: C): void {
    this.holds.delete(connection)
    const timer = this.throttled.get(connection)
    if (timer !== undefined) clearTimeout(timer)
    this.throttled.delete(connection)
    this.caughtUp(connection)
    this.stuck.delete(connection)
  }

  /** Publishers held back right now. */
  get holding (): number { return this.holds.size }

  private release (publisher: C): void {
    this.holds.delete(publisher)
    if (!this.throttled.has(publisher)) publisher.resumeReading()
  }

  private readonly expire = (): void => {
    this.holdTimer = null
    const now = this.now()
    let next = Infinity
    for (const [publisher, hold] of this.holds) {
      if (now - hold.sinceMs < MAX_HOLD_MS) {
        next = Math.min(next, hold.sinceMs + MAX_HOLD_MS)
        continue
      }
      for (const subscriber of hold.behind) this.stuck.add(subscriber)
      this.holdsExpired++
      this.release(publisher)
    }
    if (next !== Infinity) this.holdTimer = setTimeout(this.expire, Math.max(1, next - now))
  }

  /** Stops the timer (the broker is closing). */
  stop (): void {
    if (this.holdTimer !== null) clearTimeout(this.holdTimer)
    this.holdTimer = null
    for (const timer of this.throttled.values()) clearTimeout(timer)
    this.throttled.clear()
  }
}
