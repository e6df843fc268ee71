/**
 * The verdict on one flood against one broker: did the bystander keep its deliveries (longest
 * gap under 100 ms) and did the broker's memory stay within 64 MiB of where it started?
 * A flood that asks the broker to keep data it is configured to keep (the cache up to its byte
 * bound) is allowed that much more: the limit is on what an attack adds beyond the configuration.
 * Inconclusive when the bystander's own timer was held up past half the gap limit: then this
 * process, not the broker, was starved, and its gap says nothing about the broker.
 */
export const GAP_LIMIT_MS = 100
export const RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024

export interface FloodMeasurement {
  longestGapMs: number
  timerLateMaxMs: number
  rssStartBytes: number
  rssPeakBytes: number
  /** Bytes the broker keeps by its configuration during this flood (0 for most). */
  heldBytes?: number
  /** The bystander's connection was closed, or the broker died. */
  error: string | null
}

export type FloodVerdict = 'PASS' | 'FAIL' | 'inconclusive'

export function judgeFlood (m: FloodMeasurement): { verdict: FloodVerdict, reasons: string[] } {
  const reasons: string[] = []
  if (m.error !== null) reasons.push(m.error)
  const growth = m.rssPeakBytes - m.rssStartBytes
  const limit = RSS_GROWTH_LIMIT_BYTES + (m.heldBytes ?? 0)
  if (growth > limit) reasons.push(`RSS grew ${(growth / 1048576).toFixed(0)} MiB (limit ${(limit / 1048576).toFixed(0)} MiB)`)
  const gapFailed = m.longestGapMs >= GAP_LIMIT_MS
  if (gapFailed) reasons.push(`longest delivery gap ${m.longestGapMs.toFixed(0)} ms (limit ${GAP_LIMIT_MS} ms)`)
  if (reasons.length === 0) return { verdict: 'PASS', reasons }
  const onlyGap = gapFailed && reasons.length === 1
  if (onlyGap && m.timerLateMaxMs > GAP_LIMIT_MS / 2) {
    return { verdict: 'inconclusive', reasons: [...reasons, `the bystander's own timer was ${m.timerLateMaxMs.toFixed(0)} ms late`] }
  }
  return { verdict: 'FAIL', reasons }
}
