/**
 * The suite's open-loop publisher: a uniform schedule of intended send times (with optional
 * bursts), latency measured downstream from the intended time. Quotes go to
 * quote.bench.S<i> (last-value), trades to trade.bench.S<i> (events). It reports what it sent
 * (per second too), the last sequence per subject (for the final-value check), how many trades,
 * and its own health: publish delay (actual - intended) and CPU.
 */
import { connect } from '@nats-io/transport-node'
import { encodeHistogram, newHistogram, summarize } from '../../lib/histogram.ts'
import { encodeTimedPayload, fail, loadConfig, report } from './protocol.ts'
import { scheduleFor } from './schedule.ts'

export interface PublisherConfig {
  url: string
  subjects: number
  tradeRatio: number
  ratePerSec: number
  burstEveryMs: number
  burstMs: number
  burstFactor: number
  payloadBytes: number
  durationMs: number
}

export interface PublisherResult {
  published: number
  expected: number
  trades: number
  /** subject -> last sequence sent on it */
  lastSeq: Record<string, number>
  perSecond: number[]
  publishDelayUs: ReturnType<typeof summarize>
  publishDelayHistogram: string
  cpuSeconds: number
  /**
   * The schedule's origin (monotonic ns, as a string): message i was meant to go at startNs +
   * scheduleFor(config)(i).
   */
  startNs: string
  /** The broker worker it published on (from INFO's server_id; 0 on one worker or nats-server). */
  worker: number
}

async function main (): Promise<void> {
  const c = loadConfig<PublisherConfig>()
  const nc = await connect({ servers: c.url, name: 'bench-publisher' })
  const worker = Number(/W(\d+)$/.exec(nc.info?.server_id ?? '')?.[1] ?? 0)
  const at = scheduleFor(c)
  const durationNs = c.durationMs * 1e6
  let total = 0
  while (at(total) < durationNs) total++
  const quoteSubjects = Array.from({ length: c.subjects }, (_, i) => `quote.bench.S${i}`)
  const tradeSubjects = Array.from({ length: c.subjects }, (_, i) => `trade.bench.S${i}`)
  const lastSeq: Record<string, number> = {}
  const perSecond: number[] = []
  const delay = newHistogram()
  const cpuStart = process.cpuUsage()
  const tradeEvery = c.tradeRatio > 0 ? Math.round(1 / c.tradeRatio) : 0
  let trades = 0
  const t0 = process.hrtime.bigint()
  let i = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = Number(process.hrtime.bigint() - t0)
      while (i < total && at(i) <= elapsed) {
        const intended = t0 + BigInt(Math.round(at(i)))
        const sent = process.hrtime.bigint()
        const isTrade = tradeEvery > 0 && i % tradeEvery === tradeEvery - 1
        const subject = (isTrade ? tradeSubjects : quoteSubjects)[i % c.subjects] as string
        nc.publish(subject, encodeTimedPayload(i, intended, sent, c.payloadBytes))
        lastSeq[subject] = i
        if (isTrade) trades++
        delay.recordValue(Math.max(0, Number(sent - intended) / 1000))
        const second = Math.floor(Number(sent - t0) / 1e9)
        perSecond[second] = (perSecond[second] ?? 0) + 1
        i++
      }
      if (i < total) setTimeout(tick, 0)
      else resolve()
    }
    tick()
  })
  await nc.flush()
  await nc.close()
  const cpu = process.cpuUsage(cpuStart)
  report({
    published: i,
    expected: total,
    trades,
    lastSeq,
    perSecond: Array.from(perSecond, (v) => v ?? 0),
    publishDelayUs: summarize(delay),
    publishDelayHistogram: encodeHistogram(delay),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startNs: t0.toString(),
    worker
  } satisfies PublisherResult)
}

main().catch(fail)
