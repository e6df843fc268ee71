/**
 * Collects the garbage that large messages leave, sooner than V8 would by itself.
 *
 * A message of 64 KiB or more is held in a buffer outside V8's heap (an external ArrayBuffer).
 * V8 runs a full collection for external memory only once about 64 MiB of it has been allocated
 * since the last one, so a feed of large quotes leaves up to 64 MiB of dead buffers resident on
 * top of what the cache keeps: 800 quotes of 1 MiB through a 32 MiB cache grew the broker by
 * 81-99 MiB (`npm run test:adversary`, flood `cache-bytes`). The collector counts the bytes of
 * large messages and asks for a full collection once they exceed a budget: the larger of
 * `--large-message-gc-bytes` and half the heap in use. A collection's cost grows with the live
 * heap, so tying the budget to it keeps the cost per large-message byte bounded (at most two
 * markings of the heap per heap's worth of large messages), while the dead large buffers stay
 * below the budget.
 * Small messages are never counted: a market-data stream of ticks never triggers it.
 *
 * `collectGarbage()` reaches V8's `gc()` through `--expose-gc`, set at run time only when the
 * first collection is due (or `global.gc` when node runs with `--expose-gc`).
 */
import v8 from 'node:v8'
import vm from 'node:vm'

/** Messages at least this large are counted (smaller ones live in V8's heap and its young generation). */
export const LARGE_MESSAGE_BYTES = 64 * 1024

export interface LargeMessageGcDeps {
  /** The least bytes of large messages between two collections; 0 leaves collection to V8. */
  minBytes: number
  /** Runs a full collection. */
  collect?: () => void
  /** Bytes in V8's heap now. */
  heapUsed?: () => number
  /** Runs `fn` after the current turn (so the message being routed is not in the way). */
  schedule?: (fn: () => void) => void
  /** A clock in ms, to measure the collections. */
  clock?: () => number
}

/** The budget of large-message bytes before a collection: the floor, or the heap in use if larger. */
export function collectionBudget (minBytes: number, heapUsedBytes: number): number {
  return Math.max(minBytes, heapUsedBytes / 2)
}

export class LargeMessageGc {
  /** Collections run. */
  collections = 0
  /** Time spent in them (ms). */
  collectMs = 0
  /** Large-message bytes since the last collection. */
  private bytesSince = 0
  private scheduled = false
  private readonly minBytes: number
  private readonly collect: () => void
  private readonly heapUsed: () => number
  private readonly schedule: (fn: () => void) => void
  private readonly clock: () => number

  constructor (deps: LargeMessageGcDeps) {
    this.minBytes = deps.minBytes
    this.collect = deps.collect ?? collectGarbage
    this.heapUsed = deps.heapUsed ?? (() => v8.getHeapStatistics().used_heap_size)
    this.schedule = deps.schedule ?? setImmediate
    this.clock = deps.clock ?? (() => performance.now())
  }

  /** A message of `bytes` arrived; small ones are ignored. */
  noteMessage (bytes: number): void {
    if (bytes < LARGE_MESSAGE_BYTES || this.minBytes === 0) return
    this.bytesSince += bytes
    if (this.scheduled || this.bytesSince < this.minBytes) return
    if (this.bytesSince < collectionBudget(this.minBytes, this.heapUsed())) return
    this.scheduled = true
    this.schedule(() => {
      this.scheduled = false
      this.bytesSince = 0
      const start = this.clock()
      this.collect()
      this.collections++
      this.collectMs += this.clock() - start
    })
  }
}

let exposedGc: (() => void) | null = null

/** A full, synchronous collection through V8's `gc()`. */
export function collectGarbage (): void {
  exposedGc ??= exposeGc()
  exposedGc()
}

function exposeGc (): () => void {
  const global = globalThis as { gc?: () => void }
  if (typeof global.gc === 'function') return global.gc
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as unknown
  v8.setFlagsFromString('--no-expose-gc')
  if (typeof gc !== 'function') throw new Error('V8 did not expose gc() after --expose-gc')
  return gc as () => void
}
