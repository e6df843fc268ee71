/**
 * A group of subscriber connections in one process, each subscribed to quote.bench.> and
 * trade.bench.>. Per connection it records end-to-end latency from the intended send time
 * (corrected) and from the actual send time (uncorrected), the staleness of the values it
 * holds (sampled) and at delivery, skipped updates (Tickfan-Conflated), trades received, order
 * violations, the final value of each subject, and, for one message in `sampleEvery`, its
 * receive time (monotonic ns) so the orchestrator can rank connections per message (fairness).
 * Slow groups spend a cost per message blocked (traders/blocking-work.ts: the socket is not
 * read, no CPU is used).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { blockingSleep, spendBlocked } from '../../traders/blocking-work.ts'
import { encodeHistogram, newHistogram, summarize } from '../harness/histogram.ts'
import { decodeTimedPayload, fail, loadConfig, report, waitForMessage } from './protocol.ts'

export interface SubscriberGroupConfig {
  url: string
  group: string
  connections: number
  /** Connection index offset of this group (for connect-order fairness). */
  firstIndex: number
  slow: { costUs: number, stallEveryMs: number, stallMs: number } | null
  warmupMs: number
  sampleEvery: number
}

export interface ConnectionResult {
  index: number
  received: number
  trades: number
  skipped: number
  orderViolations: number
  /** subject -> last sequence received */
  lastSeq: Record<string, number>
  /** [seq, receive time ns as a string] for sampled messages */
  samples: Array<[number, string]>
}

export interface SubscriberGroupResult {
  group: string
  slow: boolean
  connections: ConnectionResult[]
  perSecond: number[]
  latencyHistogram: string
  uncorrectedHistogram: string
  stalenessHistogram: string
  latencyUs: ReturnType<typeof summarize>
  stalenessUs: ReturnType<typeof summarize>
  cpuSeconds: number
}

const CONFLATED = 'Tickfan-Conflated'

async function main (): Promise<void> {
  const c = loadConfig<SubscriberGroupConfig>()
  const latency = newHistogram()
  const uncorrected = newHistogram()
  const staleness = newHistogram()
  const perSecond: number[] = []
  const conns: NatsConnection[] = []
  const results: ConnectionResult[] = []
  const held: Array<Map<string, bigint>> = []
  const start = process.hrtime.bigint()
  const warmupNs = BigInt(Math.round(c.warmupMs * 1e6))
  for (let k = 0; k < c.connections; k++) {
    const nc = await connect({ servers: c.url, name: `${c.group}-${k}`, maxReconnectAttempts: 0 })
    const r: ConnectionResult = { index: c.firstIndex + k, received: 0, trades: 0, skipped: 0, orderViolations: 0, lastSeq: {}, samples: [] }
    const values = new Map<string, bigint>()
    results.push(r)
    held.push(values)
    const onMessage = (subject: string, data: Uint8Array, skippedHeader: string | undefined): void => {
      const now = process.hrtime.bigint()
      const { seq, intendedNs, sentNs } = decodeTimedPayload(data)
      r.received++
      if (subject.charCodeAt(0) === 116) r.trades++ // 't'rade
      if (skippedHeader !== undefined && skippedHeader !== '') r.skipped += Number(skippedHeader)
      const previous = r.lastSeq[subject]
      if (previous !== undefined && seq <= previous) r.orderViolations++
      r.lastSeq[subject] = seq
      values.set(subject, intendedNs)
      if (seq % c.sampleEvery === 0) r.samples.push([seq, now.toString()])
      const second = Math.floor(Number(now - start) / 1e9)
      perSecond[second] = (perSecond[second] ?? 0) + 1
      if (now - start >= warmupNs) {
        latency.recordValue(Math.max(0, Number(now - intendedNs) / 1000))
        uncorrected.recordValue(Math.max(0, Number(now - sentNs) / 1000))
      }
      if (c.slow !== null) spendBlocked(c.slow.costUs)
    }
    for (const subject of ['quote.bench.>', 'trade.bench.>']) {
      nc.subscribe(subject, { callback: (err, msg) => { if (err === null) onMessage(msg.subject, msg.data, msg.headers?.get(CONFLATED)) } })
    }
    await nc.flush()
    conns.push(nc)
  }
  // Staleness: the age of each value held, sampled every 20 ms after warm-up and only while the
  // publisher publishes (after it stops, every value ages and that says nothing of the broker).
  const sampler = setInterval(() => {
    const now = process.hrtime.bigint()
    if (now - start < warmupNs) return
    for (const values of held) for (const intended of values.values()) staleness.recordValue(Math.max(0, Number(now - intended) / 1000))
  }, 20)
  const staller = c.slow !== null && c.slow.stallEveryMs > 0
    ? setInterval(() => blockingSleep((c.slow as { stallMs: number }).stallMs * 1000), c.slow.stallEveryMs)
    : null
  const cpuStart = process.cpuUsage()
  process.send?.({ type: 'ready' })
  void waitForMessage('published').then(() => clearInterval(sampler))
  await waitForMessage('stop')
  clearInterval(sampler)
  if (staller !== null) clearInterval(staller)
  await Promise.all(conns.map((nc) => nc.close().catch(() => {})))
  const cpu = process.cpuUsage(cpuStart)
  report({
    group: c.group,
    slow: c.slow !== null,
    connections: results,
    perSecond: Array.from(perSecond, (v) => v ?? 0),
    latencyHistogram: encodeHistogram(latency),
    uncorrectedHistogram: encodeHistogram(uncorrected),
    stalenessHistogram: encodeHistogram(staleness),
    latencyUs: summarize(latency),
    stalenessUs: summarize(staleness),
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  } satisfies SubscriberGroupResult)
}

main().catch(fail)
