/**
 * The suite's open-loop publisher: a uniform schedule of intended send times (with optional
 * bursts), latency measured downstream from the intended time. Quotes go to
 * quote.bench.S<i> (last-value), trades to trade.bench.S<i> (events). It reports what it sent
 * (per second too), the last sequence per subject (for the final-value check), how many trades,
 * and its own health: publish delay (actual - intended) and CPU.
 *
 * It speaks the protocol over a raw socket (raw-connection.ts): each turn's due messages become
 * one PUB text and one socket write, as the official client batches its writes, without that
 * client's per-publish work. At the suite's highest offered rates the official client's
 * publisher fell behind its schedule before either broker did.
 */
import { encodeHistogram, newHistogram, summarize } from '../../lib/histogram.ts'
import { fail, loadConfig, report, timedPayloadText } from './protocol.ts'
import { RawConnection } from './raw-connection.ts'
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
  const nc = await RawConnection.open(c.url, 'bench-publisher')
  const worker = Number(/W(\d+)$/.exec(nc.serverId)?.[1] ?? 0)
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
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      const elapsed = Number(process.hrtime.bigint() - t0)
      let text = ''
      while (i < total && at(i) <= elapsed) {
        const intended = t0 + BigInt(Math.round(at(i)))
        const sent = process.hrtime.bigint()
        const isTrade = tradeEvery > 0 && i % tradeEvery === tradeEvery - 1
        const subject = (isTrade ? tradeSubjects : quoteSubjects)[i % c.subjects] as string
        const payload = timedPayloadText(i, intended, sent, c.payloadBytes)
        text += `PUB ${subject} ${payload.length}\r\n${payload}\r\n`
        lastSeq[subject] = i
        if (isTrade) trades++
        delay.recordValue(Math.max(0, Number(sent - intended) / 1000))
        const second = Math.floor(Number(sent - t0) / 1e9)
        perSecond[second] = (perSecond[second] ?? 0) + 1
        i++
      }
      if (text !== '') nc.socket.write(text, 'latin1')
      if (nc.closed) reject(new Error('the broker closed the publisher\'s connection'))
      else if (i < total) setTimeout(tick, 0)
      else resolve()
    }
    tick()
  })
  await nc.roundTrip()
  nc.close()
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
