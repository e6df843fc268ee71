/**
 * A broker's CPU time within the measured window of a run. The run's own CPU per delivery
 * counts the whole run, warm-up and settling included (runner.ts): a JIT broker compiles in its
 * first seconds, which an ahead-of-time compiled one does not, and under a quarter-core cap the
 * warm-up is 4 s of a 7 s step. The window's figure counts only the CPU spent between the end of
 * the warm-up and the last intended send, read off samples of the broker's cumulative CPU taken
 * through the run. Pure but for the sampler's reading, which is passed in.
 */

/** [monotonic ns (process.hrtime.bigint), cumulative CPU ns], in time order. */
export type CpuSample = readonly [bigint, number]

/** The cumulative CPU at `atNs`, linear between the samples around it; null outside them. */
export function cpuAt (samples: readonly CpuSample[], atNs: bigint): number | null {
  for (let i = 1; i < samples.length; i++) {
    const [t1, c1] = samples[i] as CpuSample
    if (t1 < atNs) continue
    const [t0, c0] = samples[i - 1] as CpuSample
    if (t0 > atNs) return null
    const span = Number(t1 - t0)
    return span === 0 ? c1 : c0 + (c1 - c0) * Number(atNs - t0) / span
  }
  return null
}

/** CPU seconds spent between `fromNs` and `toNs`; null unless samples cover both ends. */
export function cpuSecondsWithin (samples: readonly CpuSample[], fromNs: bigint, toNs: bigint): number | null {
  const from = cpuAt(samples, fromNs)
  const to = cpuAt(samples, toNs)
  return from === null || to === null ? null : (to - from) / 1e9
}

/** Samples `read` (cumulative CPU ns, or null when it cannot be read) every `everyMs` until stopped. */
export function sampleCpu (read: () => number | null, everyMs = 100): { stop (): CpuSample[] } {
  const samples: CpuSample[] = []
  const take = (): void => {
    const cpu = read()
    if (cpu !== null) samples.push([process.hrtime.bigint(), cpu])
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop (): CpuSample[] {
      clearInterval(timer)
      take()
      return samples
    }
  }
}
