/**
 * The suite's open-loop publisher: a uniform schedule of intended send times (with optional
 * bursts), latency measured downstream from the intended time. Quotes go to
 * quote.<space>.S<i> (last-value), trades to trade.<space>.S<i> (events), the space `bench` unless
 * the run names its own (runner.ts: a broker kept across a search's steps). It reports what it sent
 * (per second too), the last sequence per subject (for the final-value check), how many trades,
 * and its own health: publish delay (actual - intended) and CPU.
 *
 * It speaks the protocol over a raw socket (raw-connection.ts): each turn's due messages become
 * one PUB text and one socket write, as the official client batches its writes, without that
 * client's per-publish work. At the suite's highest offered rates the official client's
 * publisher fell behind its schedule before either broker did. When the socket does not take a
 * write (the broker reads slower than the schedule), it waits for the drain and reports how long
 * it waited, and the delay of the messages that backlog did not hold up: lateness there is
 * the generator's, in the backlog the broker's (harness/run-validity.ts judges it so).
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
  /** The rate's ramp at the start (scheduleFor's rampMs). */
  rampMs: number
  payloadBytes: number
  durationMs: number
  /** The subjects' second token (subjectSpace in runner.ts): `bench` unless a run names its own. */
  space?: string
}

export interface PublisherResult {
  published: number
  expected: number
  trades: number
  /** subject -> last sequence sent on it */
  lastSeq: Record<string, number>
  perSecond: number[]
  publishDelayUs: ReturnType<typeof summarize>
  /**
   * The publish delay of the messages the broker did not hold up: all but the backlog of each
   * wait for the socket to drain, from the wait's end until the schedule was caught up.
   */
  ownPublishDelayUs: ReturnType<typeof summarize>
  publishDelayHistogram: string
  cpuSeconds: number
  /** Seconds the publisher waited for its socket to drain: the broker reading slower than it sent. */
  waitedForBrokerSeconds: number
  /**
   * The schedule's origin (monotonic ns, as a string): message i was meant to go at startNs +
   * scheduleFor(config)(i).
   */
  startNs: string
  /** The broker worker it published on (from INFO's server_id; 0 on one worker or nats-server). */
  worker: number
}

/** The most text one socket write carries: a publisher catching up sends in pieces, not one huge string. */
const MAX_WRITE_CHARS = 256 * 1024

async function main (): Promise<void> {
  const c = loadConfig<PublisherConfig>()
  const nc = await RawConnection.open(c.url, 'bench-publisher')
  const worker = Number(/W(\d+)$/.exec(nc.serverId)?.[1] ?? 0)
  const at = scheduleFor(c)
  const durationNs = c.durationMs * 1e6
  let total = 0
  while (at(total) < durationNs) total++
  const space = c.space ?? 'bench'
  const quoteSubjects = Array.from({ length: c.subjects }, (_, i) => `quote.${space}.S${i}`)
  const tradeSubjects = Array.from({ length: c.subjects }, (_, i) => `trade.${space}.S${i}`)
  const lastSeq: Record<string, number> = {}
  const perSecond: number[] = []
  const delay = newHistogram()
  // The delay of messages that were not late because of the broker: see `backlogFromWait`.
  const ownDelay = newHistogram()
  const cpuStart = process.cpuUsage()
  const tradeEvery = c.tradeRatio > 0 ? Math.round(1 / c.tradeRatio) : 0
  let trades = 0
  const t0 = process.hrtime.bigint()
  let i = 0
  // Nanoseconds spent waiting for the socket to drain: the broker not reading as fast as we send.
  let waitedNs = 0n
  // Whether the messages being sent are the backlog of such a wait (from its end until the
  // schedule is caught up again): their lateness is the broker's; any other is this process's.
  let backlogFromWait = false
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      const elapsed = Number(process.hrtime.bigint() - t0)
      let text = ''
      while (i < total && at(i) <= elapsed && text.length < MAX_WRITE_CHARS) {
        const intended = t0 + BigInt(Math.round(at(i)))
        const sent = process.hrtime.bigint()
        const isTrade = tradeEvery > 0 && i % tradeEvery === tradeEvery - 1
        const subject = (isTrade ? tradeSubjects : quoteSubjects)[i % c.subjects] as string
        const payload = timedPayloadText(i, intended, sent, c.payloadBytes)
        text += `PUB ${subject} ${payload.length}\r\n${payload}\r\n`
        lastSeq[subject] = i
        if (isTrade) trades++
        const lateUs = Math.max(0, Number(sent - intended) / 1000)
        delay.recordValue(lateUs)
        if (!backlogFromWait) ownDelay.recordValue(lateUs)
        const second = Math.floor(Number(sent - t0) / 1e9)
        perSecond[second] = (perSecond[second] ?? 0) + 1
        i++
      }
      const accepted = text === '' || nc.socket.write(text, 'latin1')
      if (nc.closed) reject(new Error('the broker closed the publisher\'s connection'))
      else if (!accepted) {
        // The broker is not keeping up with its input (or pushes back on purpose): send nothing
        // more until the socket drains. Messages due meanwhile go late, and their latency, timed
        // from the schedule, says so; queueing them in the socket instead cost this process its
        // core in copies and collections, and the measurement with it.
        const since = process.hrtime.bigint()
        const resume = (): void => {
          nc.socket.off('close', resume)
          nc.socket.off('drain', resume)
          waitedNs += process.hrtime.bigint() - since
          backlogFromWait = true
          tick()
        }
        nc.socket.once('drain', resume)
        nc.socket.once('close', resume)
      } else if (i >= total) resolve()
      else if (at(i) <= Number(process.hrtime.bigint() - t0)) setImmediate(tick)
      else {
        backlogFromWait = false // caught up with the schedule
        setTimeout(tick, 0)
      }
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
    ownPublishDelayUs: summarize(ownDelay),
    publishDelayHistogram: encodeHistogram(delay),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    waitedForBrokerSeconds: Number(waitedNs) / 1e9,
    startNs: t0.toString(),
    worker
  } satisfies PublisherResult)
}

main().catch(fail)
