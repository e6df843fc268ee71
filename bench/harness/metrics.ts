/**
 * The suite's derived metrics, pure: fairness from sampled receive times, final values, trade
 * loss, order, conflation ratio. Inputs are what the load processes report.
 */
import { jainIndex as jain } from '../../broker/fanout.ts'
import type { ConnectionResult } from '../load/subscriber-group.ts'

export interface FairnessResult {
  /** Messages ranked (received by at least two connections). */
  messages: number
  /** Per-message delivery spread (last - first receive), microseconds. */
  spreadUs: { p50: number, p99: number, max: number }
  /** Per connection (by index): share of messages it received first. */
  firstShare: number[]
  /** Per connection: mean normalised rank (0 first, 1 last). */
  meanRank: number[]
  /** Jain's index over first-place counts: 1 = perfectly even. */
  jainFirstPlaces: number
  /** Pearson correlation of mean rank with connect order: 0 = connect order does not matter. */
  rankConnectOrderCorrelation: number
  /**
   * Share of first places taken by the subscribers on each broker worker (by worker index), and
   * each worker's share of the subscribers: on a fair multi-worker broker the two agree.
   */
  byWorker: Array<{ worker: number, subscribers: number, subscriberShare: number, firstShare: number }>
}

/** Jain's fairness index, the one the broker's fan-out uses too. */
export { jainIndex as jain } from '../../broker/fanout.ts'

export function pearson (xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return 0
  let mx = 0; let my = 0
  for (let i = 0; i < n; i++) { mx += xs[i] as number; my += ys[i] as number }
  mx /= n; my /= n
  let sxy = 0; let sxx = 0; let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx
    const dy = (ys[i] as number) - my
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy)
}

function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] as number
}

/**
 * Jain's index of first places that a perfectly fair random order would score, on average, with
 * `messages` ranked over `connections`: first places are then multinomial, and
 * E[sum x^2] = M^2/n + M(1 - 1/n) gives 1 / (1 + (n - 1) / M). With few messages even a fair
 * order scores well below 1; this is the yardstick the measured index is read against.
 */
export function fairJainExpected (connections: number, messages: number): number {
  if (connections <= 1 || messages <= 0) return 1
  return 1 / (1 + (connections - 1) / messages)
}

/** Ranks connections per sampled message by receive time (monotonic ns, comparable across processes). */
export function fairness (connections: readonly ConnectionResult[]): FairnessResult {
  const n = connections.length
  const bySeq = new Map<number, Array<{ conn: number, t: bigint }>>()
  connections.forEach((c, k) => {
    for (const [seq, t] of c.samples) {
      let list = bySeq.get(seq)
      if (list === undefined) { list = []; bySeq.set(seq, list) }
      list.push({ conn: k, t: BigInt(t) })
    }
  })
  const firsts = new Array<number>(n).fill(0)
  const rankSum = new Array<number>(n).fill(0)
  const rankCount = new Array<number>(n).fill(0)
  const spreads: number[] = []
  let messages = 0
  for (const list of bySeq.values()) {
    if (list.length < 2) continue
    messages++
    list.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
    spreads.push(Number((list[list.length - 1] as { t: bigint }).t - (list[0] as { t: bigint }).t) / 1000)
    const first = (list[0] as { conn: number }).conn
    firsts[first] = (firsts[first] ?? 0) + 1
    list.forEach((e, rank) => {
      rankSum[e.conn] = (rankSum[e.conn] ?? 0) + rank / (list.length - 1)
      rankCount[e.conn] = (rankCount[e.conn] ?? 0) + 1
    })
  }
  spreads.sort((a, b) => a - b)
  const meanRank = rankSum.map((s, k) => ((rankCount[k] ?? 0) === 0 ? 0.5 : s / (rankCount[k] as number)))
  return {
    messages,
    spreadUs: { p50: percentile(spreads, 50), p99: percentile(spreads, 99), max: spreads[spreads.length - 1] ?? 0 },
    firstShare: firsts.map((f) => (messages === 0 ? 0 : f / messages)),
    meanRank,
    jainFirstPlaces: jain(firsts),
    rankConnectOrderCorrelation: pearson(connections.map((c) => c.index), meanRank),
    byWorker: firstPlacesByWorker(connections, firsts, messages)
  }
}

function firstPlacesByWorker (connections: readonly ConnectionResult[], firsts: readonly number[], messages: number): FairnessResult['byWorker'] {
  const workers = new Map<number, { subscribers: number, firsts: number }>()
  connections.forEach((c, k) => {
    const w = workers.get(c.worker) ?? { subscribers: 0, firsts: 0 }
    w.subscribers++
    w.firsts += firsts[k] ?? 0
    workers.set(c.worker, w)
  })
  return [...workers.entries()].sort(([a], [b]) => a - b).map(([worker, w]) => ({
    worker,
    subscribers: w.subscribers,
    subscriberShare: w.subscribers / Math.max(1, connections.length),
    firstShare: messages === 0 ? 0 : w.firsts / messages
  }))
}

/** Connections whose last value of some subject is not the last one published. */
export function wrongFinalValues (
  connections: readonly ConnectionResult[],
  lastPublished: Record<string,
  number>
): number {
  let wrong = 0
  for (const c of connections) {
    for (const [subject, seq] of Object.entries(lastPublished)) {
      if (c.lastSeq[subject] !== seq) wrong++
    }
  }
  return wrong
}

/** Trades published but not received, summed over connections. */
export function tradeLoss (connections: readonly ConnectionResult[], tradesPublished: number): number {
  return connections.reduce((n, c) => n + Math.max(0, tradesPublished - c.trades), 0)
}

export function conflationRatio (connections: readonly ConnectionResult[]): number {
  let received = 0; let skipped = 0
  for (const c of connections) { received += c.received; skipped += c.skipped }
  return received + skipped === 0 ? 0 : skipped / (received + skipped)
}

/**
 * How late the measured window's first message reached the connection that got it latest (us;
 * null when no connection got one): the backlog the warm-up left. A broker that was still
 * catching up when the window opened starts its window this late, and its p99 says so too; a
 * step whose p99 is far above this failed on something inside the window.
 */
export function windowStartLatency (connections: readonly ConnectionResult[]): number | null {
  let latest: number | null = null
  for (const c of connections) {
    const late = c.windowStartLatencyUs
    if (late !== null && (latest === null || late > latest)) latest = late
  }
  return latest
}
