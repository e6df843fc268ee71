/**
 * Lame-duck mode, as nats-server has it (`SIGUSR2`, or `npm run broker -- --signal ldm=<pid>`):
 * the broker stops accepting connections and tells every client, with an INFO saying
 * `"ldm": true`, that it is going away; the official clients then prefer other servers of
 * their cluster when they reconnect. After a grace period it closes its clients, spread
 * evenly over the rest of the lame-duck duration, so they do not all reconnect elsewhere at
 * once, and then stops. A rolling restart, or an `--upstream` failover, loses nothing this way.
 *
 *   enter ─► listeners closed, INFO ldm ─► grace period ─► close 1 ... close n ─► stop
 *                                         |◄────────── lame-duck duration ─────────►|
 */

export interface LameDuckTimes {
  /** From entering lame-duck mode to the last client closed. */
  readonly durationMs: number
  /** From entering lame-duck mode to the first client closed. */
  readonly gracePeriodMs: number
}

/**
 * When each of `n` clients is closed, in ms after entering: the first at the grace period, the last before the
 * duration ends.
 */
export function closeSchedule (n: number, times: LameDuckTimes): number[] {
  const spread = Math.max(0, times.durationMs - times.gracePeriodMs)
  return Array.from({ length: n }, (_, i) => times.gracePeriodMs + (n <= 1 ? 0 : Math.floor(spread * i / n)))
}
