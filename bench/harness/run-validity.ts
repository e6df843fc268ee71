/**
 * Whether a run measured its broker. A run is left out of the timing verdicts when something
 * other than the broker set its pace: the publisher fell behind its schedule on its own (its
 * CPU), a load generator was saturated, or other processes loaded the machine. Lateness because
 * the broker did not read the publisher's socket (the broker's limit, or its push-back) is the
 * broker's doing: the publisher measures it apart (the backlog of each wait for the drain), that
 * run stays valid, and it fails the sustained-rate test on its latency and delivered rate instead.
 */

/** Load generators busier than this (share of their cores, or one process of its core) make a run invalid. */
export const GENERATOR_BUSY_MAX = 0.9
/** Other processes using more than this many cores on average make a run invalid. */
export const OTHER_CORES_MAX = 0.25
/** A publisher later than this at p99, in the messages the broker did not hold up, fell behind its schedule. */
export const PUBLISH_DELAY_P99_MAX_US = 100_000

export interface RunHealth {
  measuredSeconds: number
  publisher: {
    published: number
    expected: number
    /** p99 publish delay of the messages the broker did not hold up (publisher.ts). */
    ownPublishDelayP99Us: number
    cpuSeconds: number
    waitedForBrokerSeconds: number
  }
  /** Each fast subscriber process's busy share of one core. */
  subscriberBusyShares: readonly number[]
  /** Cores the load generators were pinned to (all of the machine's when unpinned). */
  loadCores: number
  /** Other processes' CPU during the run, in cores. */
  otherCores: number
}

export interface RunValidity {
  valid: boolean
  invalidReason: string | null
  /** The generators' mean busy share of their cores. */
  generatorBusy: number
  /** The busiest generator process's share of one core. */
  busiestGenerator: number
  /** The broker held the publisher back at some point (its socket did not drain). */
  heldBack: boolean
}

export function runValidity (h: RunHealth): RunValidity {
  const p = h.publisher
  const heldBack = p.waitedForBrokerSeconds > 0
  const shares = [p.cpuSeconds / h.measuredSeconds, ...h.subscriberBusyShares]
  const generatorBusy = shares.reduce((a, b) => a + b, 0) / h.loadCores
  const busiestGenerator = Math.max(...shares)
  const invalidReason = p.published < p.expected && !heldBack
    ? `the publisher sent ${p.published} of ${p.expected} scheduled messages`
    : p.ownPublishDelayP99Us > PUBLISH_DELAY_P99_MAX_US
      ? `the publisher fell behind on its own (p99 publish delay ${(p.ownPublishDelayP99Us / 1000).toFixed(1)} ms where the broker did not hold it up)`
      : generatorBusy > GENERATOR_BUSY_MAX
        ? `the load generators were ${(generatorBusy * 100).toFixed(0)}% busy on their ${h.loadCores} core${h.loadCores === 1 ? '' : 's'}`
        : busiestGenerator > GENERATOR_BUSY_MAX
          ? `one load generator process was ${(busiestGenerator * 100).toFixed(0)}% busy on its core`
          : h.otherCores > OTHER_CORES_MAX
            ? `the machine was not quiet: other processes used ${h.otherCores.toFixed(2)} cores`
            : null
  return { valid: invalidReason === null, invalidReason, generatorBusy, busiestGenerator, heldBack }
}
