/**
 * What a `Tickfan-Conflated` header says: how many newer values the broker skipped for this
 * delivery (lib/headers.ts CONFLATED_HEADER). tickfan writes a whole number and takes out any a
 * publisher sent (broker/client.ts), but a bot or a dashboard pointed at nats-server gets
 * whatever a publisher wrote. `Number()` of that summed into a skipped total made it NaN, or
 * negative, for good. No imports: the dashboard's bundle uses it too.
 */

/** Past this many digits the count is not one the broker wrote (it counts per subscription and subject). */
const MAX_DIGITS = 15

/** 0 when the header is absent or empty; the count when it is a whole number; null when it is not one. */
export function conflatedCount (value: string | undefined): number | null {
  if (value === undefined || value === '') return 0
  if (value.length > MAX_DIGITS || !/^[0-9]+$/.test(value)) return null
  return Number(value)
}
