/**
 * A group of subscriber connections in one process, each subscribed to quote.<space>.> and
 * trade.<space>.> (the space `bench` unless the run names its own, as the publisher's). Per
 * connection it records end-to-end latency of every message it receives from the intended send
 * time (corrected) and from the actual send time (uncorrected), skipped
 * updates (Tickfan-Conflated), trades received, order violations, the final value of each
 * subject, and, for one message in `sampleEvery`, its receive time (monotonic ns) so the
 * orchestrator can rank connections per message (fairness). Warm-up is counted by sequence:
 * messages the publisher numbered below `warmupSeq` are not recorded. Every receipt is logged,
 * and after the run, once the orchestrator has said which window was measured, the group
 * computes the time-weighted staleness of the values held (bench/harness/staleness.ts) and the
 * receipts within that window (so a rate is counted over the window it is divided by).
 * Slow groups spend a cost per message blocked (lib/blocking-work.ts: the socket is not
 * read, no CPU is used).
 *
 * Connections are lean raw sockets (raw-connection.ts), not the official client: at 100k
 * deliveries/s into one process the official client's per-message work saturated the load
 * core, and the suite measured its generators instead of the broker. Each message is read in
 * place and leaves nothing behind for the garbage collector to copy: subjects are interned (the
 * broker's own table), the payload's fields parsed as numbers, the Tickfan-Conflated header
 * found by a byte search, and receipts and fairness samples kept in typed arrays. (With a
 * [seq, time] array per sample, the fairness workload's group paused every connection at once
 * for scavenges that copied them, a tail that both brokers were then charged with.) A fast group reads the clock
 * once per socket read: every message in it arrived at that instant, and timing each one after
 * its predecessors were processed would charge the broker with the generator's own work. A slow
 * group reads it per message: it holds a value only once it has got through those before it.
 */
import { blockingSleep, spendBlocked } from '../../lib/blocking-work.ts'
import { encodeHistogram, newHistogram, summarize } from '../../lib/histogram.ts'
import { SubjectInterner } from '../../broker/subject-intern.ts'
import { doubled, ReceiptLog } from '../harness/staleness.ts'
import type { FrameVisitor } from './frame-scanner.ts'
import { RawConnection } from './raw-connection.ts'
import { fail, loadConfig, readTimedPayload, report, waitForMessage, type TimedFields } from './protocol.ts'

export interface SubscriberGroupConfig {
  url: string
  group: string
  connections: number
  /** Connection index offset of this group (for connect-order fairness). */
  firstIndex: number
  slow: { costUs: number, stallEveryMs: number, stallMs: number } | null
  /** Messages the publisher numbered below this are warm-up: received, not recorded. */
  warmupSeq: number
  sampleEvery: number
  /** The subjects' second token, the publisher's (PublisherConfig.space): `bench` unless given. */
  space?: string
}

/** The measured window (monotonic ns, as strings), sent with 'published'. */
export interface MeasuredWindow { type: 'published', fromNs: string, toNs: string }

export interface ConnectionResult {
  index: number
  /** The broker worker it landed on (from INFO's server_id; 0 on a one-worker broker or nats-server). */
  worker: number
  received: number
  trades: number
  skipped: number
  orderViolations: number
  /** subject -> last sequence received */
  lastSeq: Record<string, number>
  /**
   * How late (us after it was due) the first message of the measured window (the first with a
   * sequence at or past warmupSeq) reached this connection: the backlog the warm-up left it;
   * null when none came.
   */
  windowStartLatencyUs: number | null
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
  /** Receipts (all connections) with a receive time within the measured window. */
  receivedInWindow: number
  cpuSeconds: number
  /** CPU time over wall time from ready until the publisher finished: 1 = a whole core. */
  busyShare: number
}

const CONFLATED = Buffer.from('Tickfan-Conflated:')

/** Fairness samples, [seq, receive time ns], without an object per sample. */
class SampleLog {
  private seqs = new Float64Array(1024)
  private times = new Float64Array(1024)
  private length = 0

  add (seq: number, timeNs: number): void {
    if (this.length === this.seqs.length) {
      this.seqs = doubled(this.seqs)
      this.times = doubled(this.times)
    }
    this.seqs[this.length] = seq
    this.times[this.length] = timeNs
    this.length++
  }

  /** As the result carries them: receive times as decimal strings. */
  entries (): Array<[number, string]> {
    const entry = (_: unknown, i: number): [number, string] => [this.seqs[i] as number, String(this.times[i])]
    return Array.from({ length: this.length }, entry)
  }
}

/** The value of the Tickfan-Conflated header in buf[from, to) (0 if absent). */
function conflatedCount (buf: Buffer, from: number, to: number): number {
  if (from === to) return 0
  const at = buf.indexOf(CONFLATED, from)
  if (at < 0 || at >= to) return 0
  let n = 0
  for (let i = at + CONFLATED.length; i < to; i++) {
    const b = buf[i] as number
    if (b === 32) continue
    if (b < 48 || b > 57) break
    n = n * 10 + (b - 48)
  }
  return n
}

async function main (): Promise<void> {
  const c = loadConfig<SubscriberGroupConfig>()
  const space = c.space ?? 'bench'
  const latency = newHistogram()
  const uncorrected = newHistogram()
  const staleness = newHistogram()
  const perSecond: number[] = []
  const conns: RawConnection[] = []
  const results: ConnectionResult[] = []
  const logs: ReceiptLog[] = []
  const subjectIndex = new Map<string, number>()
  const fields: TimedFields = { seq: 0, intendedNs: 0, sentNs: 0 }
  const subjects = new SubjectInterner()
  const sampleLogs: SampleLog[] = []
  const startNs = Number(process.hrtime.bigint())
  // The chunk being read, a view of it for the interner, and when it was read.
  let chunk: Buffer | null = null
  let words: DataView = new DataView(new ArrayBuffer(0))
  let chunkNs = 0
  for (let k = 0; k < c.connections; k++) {
    const r: ConnectionResult = {
      index: c.firstIndex + k,
      worker: 0,
      received: 0,
      trades: 0,
      skipped: 0,
      orderViolations: 0,
      lastSeq: {},
      windowStartLatencyUs: null,
      samples: []
    }
    const log = new ReceiptLog()
    const samples = new SampleLog()
    results.push(r)
    logs.push(log)
    sampleLogs.push(samples)
    const onMessage: FrameVisitor = (buf, subjectStart, subjectEnd, headerStart, payloadStart, end) => {
      if (buf !== chunk) {
        chunk = buf
        words = new DataView(buf.buffer, buf.byteOffset, buf.length)
        chunkNs = Number(process.hrtime.bigint())
      }
      const nowNs = c.slow === null ? chunkNs : Number(process.hrtime.bigint())
      if (!readTimedPayload(buf, payloadStart, end, fields)) throw new Error(`${c.group}-${k}: a message without a timed payload`)
      const { seq, intendedNs, sentNs } = fields
      const subject = subjects.intern(buf, words, subjectStart, subjectEnd)
      r.received++
      if (buf[subjectStart] === 116) r.trades++ // 't'rade
      r.skipped += conflatedCount(buf, headerStart, payloadStart)
      const previous = r.lastSeq[subject]
      if (previous !== undefined && seq <= previous) r.orderViolations++
      r.lastSeq[subject] = seq
      let id = subjectIndex.get(subject)
      if (id === undefined) { id = subjectIndex.size; subjectIndex.set(subject, id) }
      log.add(id, intendedNs, nowNs)
      if (seq % c.sampleEvery === 0) samples.add(seq, nowNs)
      const second = Math.floor((nowNs - startNs) / 1e9)
      perSecond[second] = (perSecond[second] ?? 0) + 1
      if (seq >= c.warmupSeq) {
        const lateUs = Math.max(0, (nowNs - intendedNs) / 1000)
        r.windowStartLatencyUs ??= lateUs
        latency.recordValue(lateUs)
        uncorrected.recordValue(Math.max(0, (nowNs - sentNs) / 1000))
      }
      if (c.slow !== null) spendBlocked(c.slow.costUs)
    }
    const nc = await RawConnection.open(c.url, `${c.group}-${k}`, onMessage)
    r.worker = Number(/W(\d+)$/.exec(nc.serverId)?.[1] ?? 0)
    // Sids 1 and 2, as the official clients number a connection's first subscriptions.
    nc.socket.write(`SUB quote.${space}.> 1\r\nSUB trade.${space}.> 2\r\n`)
    await nc.roundTrip()
    conns.push(nc)
  }
  const staller = c.slow !== null && c.slow.stallEveryMs > 0
    ? setInterval(() => blockingSleep((c.slow as { stallMs: number }).stallMs * 1000), c.slow.stallEveryMs)
    : null
  const cpuStart = process.cpuUsage()
  const wallStart = process.hrtime.bigint()
  process.send?.({ type: 'ready' })
  let window: MeasuredWindow | null = null
  let busyShare = 0
  void waitForMessage<MeasuredWindow>('published').then((w) => {
    window = w
    // How busy this process was while the publisher ran: its headroom as a load generator.
    const used = process.cpuUsage(cpuStart)
    busyShare = (used.user + used.system) / 1e6 / (Number(process.hrtime.bigint() - wallStart) / 1e9)
  })
  await waitForMessage('stop')
  if (staller !== null) clearInterval(staller)
  for (const nc of conns) nc.close()
  const cpu = process.cpuUsage(cpuStart)
  // Staleness over the measured window only: before it is warm-up, and after the publisher
  // stops every value ages, which says nothing of the broker.
  let receivedInWindow = 0
  if (window !== null) {
    const fromNs = Number((window as MeasuredWindow).fromNs)
    const toNs = Number((window as MeasuredWindow).toNs)
    for (const log of logs) {
      log.recordStaleness(staleness, fromNs, toNs)
      receivedInWindow += log.countWithin(fromNs, toNs)
    }
  }
  results.forEach((r, k) => { r.samples = (sampleLogs[k] as SampleLog).entries() })
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
    receivedInWindow,
    busyShare,
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  } satisfies SubscriberGroupResult)
}

main().catch(fail)
