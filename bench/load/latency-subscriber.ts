/**
 * A measuring subscriber: records end-to-end latency from each message's intended send time
 * (corrected) and from its actual send time (uncorrected), and counts order violations per
 * subject. Reports when the orchestrator says stop.
 */
import { connect } from '@nats-io/transport-node'
import { encodeHistogram, newHistogram, summarize } from '../../lib/histogram.ts'
import { decodeTimedPayload, fail, loadConfig, report, waitForMessage } from './protocol.ts'

export interface LatencySubscriberConfig {
  url: string
  subject: string
  name: string
  /** Messages with a lower sequence are warm-up and not recorded. */
  warmupSeq: number
}

export interface LatencySubscriberResult {
  received: number
  recorded: number
  orderViolations: number
  latencyUs: ReturnType<typeof summarize>
  uncorrectedUs: ReturnType<typeof summarize>
  latencyHistogram: string
  uncorrectedHistogram: string
}

async function main (): Promise<void> {
  const config = loadConfig<LatencySubscriberConfig>()
  const nc = await connect({ servers: config.url, name: config.name })
  const corrected = newHistogram()
  const uncorrected = newHistogram()
  const lastSeq = new Map<string, number>()
  let received = 0
  let orderViolations = 0
  nc.subscribe(config.subject, {
    callback: (_err, msg) => {
      const now = process.hrtime.bigint()
      received++
      const { seq, intendedNs, sentNs } = decodeTimedPayload(msg.data)
      const previous = lastSeq.get(msg.subject)
      if (previous !== undefined && seq <= previous) orderViolations++
      lastSeq.set(msg.subject, seq)
      if (seq < config.warmupSeq) return
      corrected.recordValue(Math.max(0, Number(now - intendedNs) / 1000))
      uncorrected.recordValue(Math.max(0, Number(now - sentNs) / 1000))
    }
  })
  await nc.flush()
  process.send?.({ type: 'ready' })
  await waitForMessage('stop')
  await nc.close()
  const result: LatencySubscriberResult = {
    received,
    recorded: corrected.totalCount,
    orderViolations,
    latencyUs: summarize(corrected),
    uncorrectedUs: summarize(uncorrected),
    latencyHistogram: encodeHistogram(corrected),
    uncorrectedHistogram: encodeHistogram(uncorrected)
  }
  report(result)
}

main().catch(fail)
