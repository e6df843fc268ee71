/**
 * Benchmark workloads are files in bench/workloads/, in the spirit of OpenMessaging Benchmark.
 * This module is their schema: every key, its type, its default, and validation that names the
 * offending key (unknown keys, wrong types and impossible values are rejected).
 */
import { readFileSync } from 'node:fs'

export interface SlowSpec {
  /** Time per message (us), slept so reads block without using CPU. */
  costUs: number
  /** Stall every this often (ms; 0 = never) for stallMs. */
  stallEveryMs: number
  stallMs: number
}

export interface Workload {
  name: string
  description: string
  /** Last-value subjects the publisher cycles through (quote.bench.S<i>). */
  subjects: number
  /** Fraction of messages published as trades (event subjects trade.bench.S<i>), never conflated. */
  tradeRatio: number
  /** Offered messages/s, or "max" to find the maximum sustainable rate. */
  rate: number | 'max'
  /** For rate "max": the rates to try, in order (stops at the first not sustained). */
  rateSteps: number[]
  /** Burst: every burstEveryMs the rate is multiplied by burstFactor for burstMs (0 = steady). */
  burstEveryMs: number
  burstMs: number
  burstFactor: number
  payloadBytes: number
  /** Subscriber connections, spread over subscriberProcesses processes. */
  subscribers: number
  subscriberProcesses: number
  /** Fraction of subscribers that are slow (in their own process). */
  slowFraction: number
  slow: SlowSpec
  /** Broker workers to sweep (scaling); [1] otherwise. */
  workers: number[]
  warmupSeconds: number
  /** Of the warm-up, how long the rate rises from 0 to the step's at the start (0 = at once). */
  warmupRampSeconds: number
  durationSeconds: number
  repetitions: number
  /**
   * Of those repetitions, how many also run the targets other than tickfan (nats-server), which
   * are shown beside tickfan but not judged; 0 = every repetition. Lets a judged workload repeat
   * tickfan often enough to settle its verdict without doubling the run for a comparison.
   */
  comparisonRepetitions: number
  /** Record delivery times of one message in this many, for fairness. */
  fairnessSampleEvery: number
}

export const WORKLOAD_DEFAULTS: Omit<Workload, 'name' | 'description'> = {
  subjects: 100,
  tradeRatio: 0,
  rate: 10_000,
  rateSteps: [10_000, 20_000, 40_000, 80_000, 160_000],
  burstEveryMs: 0,
  burstMs: 0,
  burstFactor: 1,
  payloadBytes: 128,
  subscribers: 1,
  subscriberProcesses: 1,
  slowFraction: 0,
  slow: { costUs: 2000, stallEveryMs: 0, stallMs: 0 },
  workers: [1],
  warmupSeconds: 1,
  warmupRampSeconds: 0,
  durationSeconds: 5,
  repetitions: 1,
  comparisonRepetitions: 0,
  fairnessSampleEvery: 50
}

export class WorkloadError extends Error {
  override name = 'WorkloadError'
}

type Check = (value: unknown, key: string) => unknown

const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v, key) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new WorkloadError(`${key} must be an integer, got ${JSON.stringify(v)}`)
  if (v < min || v > max) throw new WorkloadError(`${key} must be between ${min} and ${max}, got ${v}`)
  return v
}
const number = (min: number, max: number): Check => (v, key) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new WorkloadError(`${key} must be a number, got ${JSON.stringify(v)}`)
  if (v < min || v > max) throw new WorkloadError(`${key} must be between ${min} and ${max}, got ${v}`)
  return v
}
const text: Check = (v, key) => {
  if (typeof v !== 'string' || v.trim() === '') throw new WorkloadError(`${key} must be a non-empty string, got ${JSON.stringify(v)}`)
  return v
}
const list = (item: Check, minLength = 1): Check => (v, key) => {
  if (!Array.isArray(v) || v.length < minLength) throw new WorkloadError(`${key} must be a list of at least ${minLength}, got ${JSON.stringify(v)}`)
  return v.map((x, i) => item(x, `${key}[${i}]`))
}

const SCHEMA: Record<keyof Workload, Check> = {
  name: text,
  description: text,
  subjects: integer(1, 100_000),
  tradeRatio: number(0, 1),
  rate: (v, key) => (v === 'max' ? v : integer(1, 10_000_000)(v, key)),
  rateSteps: list(integer(1, 10_000_000)),
  burstEveryMs: integer(0),
  burstMs: integer(0),
  burstFactor: number(1, 1000),
  payloadBytes: integer(64, 1024 * 1024),
  subscribers: integer(1, 100_000),
  subscriberProcesses: integer(1, 64),
  slowFraction: number(0, 1),
  slow: (v, key) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WorkloadError(`${key} must be an object, got ${JSON.stringify(v)}`)
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) if (!['costUs', 'stallEveryMs', 'stallMs'].includes(k)) throw new WorkloadError(`${key}.${k} is not a known key (known: costUs, stallEveryMs, stallMs)`)
    return {
      costUs: integer(0)(o.costUs ?? WORKLOAD_DEFAULTS.slow.costUs, `${key}.costUs`),
      stallEveryMs: integer(0)(o.stallEveryMs ?? 0, `${key}.stallEveryMs`),
      stallMs: integer(0)(o.stallMs ?? 0, `${key}.stallMs`)
    }
  },
  workers: list(integer(1, 1024)),
  warmupSeconds: number(0, 600),
  warmupRampSeconds: number(0, 600),
  durationSeconds: number(0.5, 3600),
  repetitions: integer(1, 100),
  comparisonRepetitions: integer(0, 100),
  fairnessSampleEvery: integer(1, 1_000_000)
}

/** Validates a parsed workload object; throws WorkloadError naming the key. */
export function validateWorkload (raw: unknown, source = 'workload'): Workload {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new WorkloadError(`${source}: must be a JSON object`)
  const o = raw as Record<string, unknown>
  const known = Object.keys(SCHEMA)
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw new WorkloadError(`${source}: unknown key "${key}" (known: ${known.join(', ')})`)
  }
  const out: Record<string, unknown> = {}
  try {
    for (const [key, check] of Object.entries(SCHEMA)) {
      const value = o[key] ?? (WORKLOAD_DEFAULTS as Record<string, unknown>)[key]
      if (value === undefined) throw new WorkloadError(`${key} is required`)
      out[key] = check(value, key)
    }
  } catch (err) {
    if (err instanceof WorkloadError) throw new WorkloadError(`${source}: ${err.message}`)
    throw err
  }
  const w = out as unknown as Workload
  if (w.subscriberProcesses > w.subscribers) throw new WorkloadError(`${source}: subscriberProcesses (${w.subscriberProcesses}) cannot exceed subscribers (${w.subscribers})`)
  if (w.burstEveryMs > 0 && w.burstMs >= w.burstEveryMs) throw new WorkloadError(`${source}: burstMs (${w.burstMs}) must be shorter than burstEveryMs (${w.burstEveryMs})`)
  if (w.slowFraction > 0 && Math.round(w.subscribers * w.slowFraction) === w.subscribers) throw new WorkloadError(`${source}: slowFraction leaves no fast subscriber to measure`)
  if (w.warmupRampSeconds > w.warmupSeconds) throw new WorkloadError(`${source}: warmupRampSeconds (${w.warmupRampSeconds}) must be within warmupSeconds (${w.warmupSeconds})`)
  return w
}

export function loadWorkload (path: string): Workload {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new WorkloadError(`${path}: ${(err as Error).message}`)
  }
  return validateWorkload(raw, path)
}

/** The workloads the suite's timing verdicts are judged on: `--repeat` applies to them. */
export const JUDGED_WORKLOADS: ReadonlySet<string> = new Set(['slow-consumers', 'fairness', 'wide-fanout', 'max-throughput'])

/** How many times the suite runs `w`: a judged workload at least `repeat` times, unless the run is quick. */
export function repetitionsOf (w: Workload, repeat: number, quickRun = false): number {
  return JUDGED_WORKLOADS.has(w.name) && !quickRun ? Math.max(w.repetitions, repeat) : w.repetitions
}

/**
 * The targets repetition `rep` (from 0) of `w` measures, in order: interleaved A B, B A, so
 * neither target always runs first; after the first comparisonRepetitions, tickfan alone.
 */
export function targetsOfRepetition<T extends string> (w: Workload, rep: number, targets: readonly T[]): T[] {
  const compared = w.comparisonRepetitions === 0 || rep < w.comparisonRepetitions
  const these = compared ? [...targets] : targets.filter((t) => t === 'tickfan')
  return rep % 2 === 0 ? these : these.reverse()
}

/**
 * A workload for a broker capped at `share` of one core (the suite's --broker-cpu): the warm-up
 * is stretched so that the broker gets the CPU time to warm up (compile its hot code, grow its
 * heap) that a whole core gives it in the workload's own warm-up. Capped at a quarter of a core
 * with the usual 1 s, tickfan's p99 at 20,000 msgs/s was 55 ms, and with 6 s 6.7 ms
 * (reports/broker/max-throughput-capped.md).
 */
export function capped (w: Workload, share: number): Workload {
  const stretched = (seconds: number): number => Math.round(seconds / share * 10) / 10
  if (share >= 1) return w
  return { ...w, warmupSeconds: stretched(w.warmupSeconds), warmupRampSeconds: stretched(w.warmupRampSeconds) }
}

/**
 * A search step's second run, for a broker that did not sustain it (max-search.ts
 * stepTriedAgain): the warm-up twice as long, its rate ramped up from 0 over the first half. A
 * broker that compiles its code as it runs (tickfan on V8) then reaches its window compiled;
 * one that keeps up from its first second (nats-server) loses nothing by it. See
 * reports/broker/capped-lead-checks.md.
 */
export function warmedAgain (w: Workload): Workload {
  return { ...w, warmupSeconds: w.warmupSeconds * 2, warmupRampSeconds: w.warmupSeconds }
}

/** Shortens a workload for --quick and bench:ci runs: same shape, less time. */
export function quick (w: Workload, factor: number): Workload {
  return {
    ...w,
    warmupSeconds: Math.min(w.warmupSeconds, 0.5),
    warmupRampSeconds: Math.min(w.warmupRampSeconds, 0.5), // within the warm-up: validated so
    durationSeconds: Math.max(1, Math.round(w.durationSeconds * factor * 10) / 10),
    repetitions: 1,
    rateSteps: w.rateSteps.slice(0, 2)
  }
}
