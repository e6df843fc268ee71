/** Samples a process's resident memory over a run and says whether it stayed flat. */
import { slope } from '../../lib/trend.ts'
import { rssBytes } from './processes.ts'

export interface MemorySeries {
  /** [ms since start, RSS bytes] */
  samples: Array<[number, number]>
  startBytes: number
  peakBytes: number
  endBytes: number
  /** Least-squares slope over the second half of the run, bytes per second. */
  slopeBytesPerSec: number
}

export function sampleMemory (pid: number, everyMs = 250): { stop (): MemorySeries } {
  const samples: Array<[number, number]> = []
  const t0 = Date.now()
  const take = (): void => {
    const rss = rssBytes(pid)
    if (rss !== null) samples.push([Date.now() - t0, rss])
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop (): MemorySeries {
      clearInterval(timer)
      take()
      const values = samples.map(([, v]) => v)
      return {
        samples,
        startBytes: values[0] ?? 0,
        peakBytes: Math.max(0, ...values),
        endBytes: values[values.length - 1] ?? 0,
        slopeBytesPerSec: slope(samples.slice(Math.floor(samples.length / 2)))
      }
    }
  }
}
