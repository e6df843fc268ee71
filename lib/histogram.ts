/**
 * HDR histograms for latency (recorded in microseconds), their summary and their encoding
 * for shipping between processes (hdr-histogram-js, JS implementation only: WASM and JS
 * histograms must not be mixed in add()).
 */
import * as hdr from 'hdr-histogram-js'

export type Histogram = hdr.Histogram

export function newHistogram (): Histogram {
  return hdr.build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

export const encodeHistogram = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h)
export const decodeHistogram = (s: string): Histogram => hdr.decodeFromCompressedBase64(s, 64, false)

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  p9999: number
  max: number
  mean: number
}

/** Percentiles in the histogram's unit (microseconds here). */
export function summarize (h: Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    p9999: h.getValueAtPercentile(99.99),
    max: h.maxValue,
    mean: Math.round(h.mean)
  }
}

/** Microseconds as a short human string. */
export function formatUs (us: number): string {
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(2)} s`
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`
  return `${Math.round(us)} us`
}
