/**
 * How a broker process is started: the environment for glibc's allocator and the flags for
 * Node's V8. `npm run broker`, a primary forking its workers, the demo and the benchmarks all
 * start the broker with both; set them yourself where you start `node dist/broker.mjs` another
 * way (DEPLOYMENT.md).
 */

/**
 * glibc's mmap threshold, fixed at 128 KiB. By default glibc raises it each time a large block
 * is freed (up to 32 MiB), so the large buffers of big messages end up in the main heap, and
 * their memory stays resident after they are freed: 800 quotes of 1 MiB through a broker with a
 * 32 MiB cache left it 80-100 MiB larger. With the threshold fixed, blocks above it are mapped
 * and unmapped one by one and go back to the system when freed (the same flood: +54 MiB at its
 * peak, +50 MiB after; `npm run test:adversary`, flood `cache-bytes`). Reads and writes of
 * 64 KiB stay below it. Another libc ignores the variable.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' }

/**
 * V8's young generation kept at 16 MiB a semi-space at least. V8 starts it at 1 MiB, grows it
 * under load and shrinks it again when the process is idle. A broker's load comes and goes, and
 * what a publish allocates (the message, its frame, the pieces of each connection's next write)
 * lives until the flush turn: the likely cost is that a small young generation finds more of it
 * still alive, and copies it, at each scavenge (not measured apart). `npm run
 * bench:young-generation` (the lockstep fan-out of `bench:ci` to 10 subscribers, 1.5 s idle
 * before each sample, five broker processes each way, started in turn): medians per process of
 * 340-506 ns of broker CPU per delivery without the flag and 313-371 ns with it, each process
 * with it below the one before it without (`reports/broker/young-generation.md`). It costs up
 * to 32 MiB more resident memory.
 */
export const YOUNG_GENERATION_FLAG = '--min-semi-space-size=16'

/**
 * V8's old generation given 64 MB before its first full collection. A broker's old generation
 * is small (15-22 MB while it kept every trade of 200,000 a second), and V8, starting from a
 * limit near that, kept marking and compacting it several times a second while the trade
 * history filled: 26-38 full collections in a 6-second run at 1.23-1.43 s of CPU per million
 * deliveries; with this flag 9-10, at 1.07-1.14, with the same p99 and peak RSS (three pairs,
 * `reports/broker/history-gc.md`). It lets up to 64 MB of garbage wait for a collection.
 */
export const OLD_GENERATION_FLAG = '--initial-old-space-size=64'

/**
 * V8 inlines twice as much bytecode into one optimised function as it would (920 bytes by default).
 * A publish runs the parser, the client, the router, each subscriber's outbox and the history in
 * one call chain of small functions, and with the default V8 stops inlining along it. The
 * socket-free publish path, in interleaved rounds on Node 20 (`reports/broker/inlining.md`):
 * trades to 2 subscribers 1-13% less per message, plain messages 1-7%, last values to 10
 * subscribers -3% to +1%; on Node 24 trades 8-16% less, on Node 22 0-2%. Through sockets under a
 * quarter-core quota, one step at 160,000 msgs/s, the broker spent 0.66-0.72 s of CPU per
 * million deliveries with it and 0.70-0.72 without (six rounds, lower or equal in each).
 * Optimised code grows, and so does compile time, paid once as the code warms up.
 */
export const INLINING_FLAG = '--max-inlined-bytecode-size-cumulative=1840'

export const NODE_FLAGS: readonly string[] = [YOUNG_GENERATION_FLAG, OLD_GENERATION_FLAG, INLINING_FLAG]

/**
 * V8's collector on the main thread alone, for a broker process whose share of a CPU quota
 * (broker/cpu-quota.ts) is under one core. V8 runs parts of each collection on helper threads
 * (Node starts four); under a quota they spend the process's time with the main thread's, and
 * once it is spent every thread waits for the next period, so a pause lasts several times its
 * CPU time. One step of max-throughput (80,000 msgs/s to 2 subscribers) with the broker capped
 * at a quarter of a core, in four alternated pairs: p99 55-128 ms with helper threads, 13-27 ms
 * without, CPU per delivery unchanged; at half a core 25-31 ms against 16-22 ms (three pairs);
 * with a whole core no gain: 20-41 ms against 24-32 ms (`reports/broker/capped-gc-threads.md`).
 * Where a process has time to spare, the helpers shorten pauses: only under a quota below a core.
 */
export const SINGLE_THREADED_GC_FLAG = '--single-threaded-gc'

/** The node flags for each of `processes` broker processes sharing a CPU quota of `quotaCores` (null: none). */
export function quotaFlags (quotaCores: number | null, processes: number): string[] {
  return quotaCores !== null && quotaCores / processes < 1 ? [SINGLE_THREADED_GC_FLAG] : []
}

/** `execArgv` with the NODE_FLAGS (and `extra` flags) it lacks put first (for the workers a primary forks). */
export function withNodeFlags (execArgv: readonly string[], extra: readonly string[] = []): string[] {
  return [...[...NODE_FLAGS, ...extra].filter((flag) => !execArgv.includes(flag)), ...execArgv]
}
