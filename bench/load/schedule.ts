/**
 * The publisher's schedule, pure: when message i is meant to be sent, so the orchestrator can
 * tell which sequence numbers fall in the warm-up without running the publisher.
 */
export interface ScheduleConfig {
  ratePerSec: number
  burstEveryMs: number
  burstMs: number
  burstFactor: number
  /**
   * A ramp at the start (ms, 0 = none): the rate rises in a straight line from 0 to the
   * schedule's own over it, then holds. The schedule runs behind its unramped self by half the
   * ramp from then on.
   */
  rampMs?: number
}

/**
 * Intended send time (ns after start) of message i, with bursts folded into the schedule and
 * the start ramped. The ramp warps time: the unramped schedule's time u is reached at real time
 * t with u = t^2 / 2T over the ramp of T, and u = t - T/2 after it.
 */
export function scheduleFor (config: ScheduleConfig): (i: number) => number {
  const unramped = unrampedSchedule(config)
  const rampNs = (config.rampMs ?? 0) * 1e6
  if (rampNs <= 0) return unramped
  return (i) => {
    const u = unramped(i)
    return u < rampNs / 2 ? Math.sqrt(2 * rampNs * u) : u + rampNs / 2
  }
}

function unrampedSchedule (config: ScheduleConfig): (i: number) => number {
  const base = 1e9 / config.ratePerSec
  // i * 1e9 / rate, not i * base: base is rounded, and i * base can fall just short of a whole
  // second, which scheduled one message more than rate x seconds (770,001 in 7 s at 110,000/s).
  if (config.burstEveryMs <= 0 || config.burstFactor === 1) return (i) => i * 1e9 / config.ratePerSec
  // Messages per cycle: calm part at the base rate, burst part at rate * factor.
  const cycleNs = config.burstEveryMs * 1e6
  const burstNs = config.burstMs * 1e6
  const perBurst = burstNs / (base / config.burstFactor)
  const perCalm = (cycleNs - burstNs) / base
  const perCycle = perBurst + perCalm
  return (i) => {
    const cycle = Math.floor(i / perCycle)
    const k = i - cycle * perCycle
    const within = k < perBurst ? k * (base / config.burstFactor) : burstNs + (k - perBurst) * base
    return cycle * cycleNs + within
  }
}

