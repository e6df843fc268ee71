/**
 * Services built on pub/sub. None of them is known to any publisher: adding one changes nothing
 * upstream.
 *
 * - consolidator: `quote.*.*` in, `bbo.<SYM>` out (a derived last-value stream);
 * - arbitrage watcher: `quote.*.*` in, `signal.arbitrage.<SYM>` out when a crossing opens,
 *   changes or closes;
 * - reference price: a queue group (`price-service`) of several members answering requests on
 *   `price.<SYM>`; each request goes to one member (load balanced by the broker);
 * - monitor: watches `quote.>` and `trade.>`, publishes `alerts.monitor` (venue silent or back,
 *   latency spikes).
 */
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node'
import type { NatsCredentials } from '../lib/client-credentials.ts'
import { failureReason, guardedCallback } from '../lib/guarded-callback.ts'
import { SEQUENCE_HEADER } from '../lib/headers.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
import { SequenceStamper, bboSubject, nowEpochMs, nowMonoUs, parseTick, type QuoteTick } from '../feeds/tick.ts'
import { AnomalyDetector, type Anomaly } from './anomaly.ts'
import { ArbitrageWatcher } from './arbitrage.ts'
import { Consolidator, type BboTick } from './consolidator.ts'

export const PRICE_QUEUE = 'price-service'
export const ARBITRAGE_PREFIX = 'signal.arbitrage'
export const ALERTS_SUBJECT = 'alerts.monitor'

export interface PriceReply {
  v: 1
  type: 'price'
  symbol: string
  bid: number | null
  ask: number | null
  mid: number | null
  venues: number
  member: string
  at: number
}

export interface ServicesOptions {
  natsUrl: string
  credentials?: NatsCredentials
  /** Members of the reference-price queue group. Default 3. */
  priceMembers?: number
  /** A venue silent this long is an anomaly (ms). Default 3000. */
  silentMs?: number
  /** Delivery latency counted as a spike (us). Default 50000. */
  latencySpikeUs?: number
  log?: (msg: string) => void
}

export interface RunningServices {
  readonly connections: NatsConnection[]
  readonly stats: {
    bboPublished: number,
    arbitrageSignals: number,
    priceRequests: Record<string,
    number>,
    anomalies: Anomaly[],
    decodeErrors: number
  }
  close (): Promise<void>
}

const encoder = new TextEncoder()

export async function startServices (options: ServicesOptions): Promise<RunningServices> {
  const log = options.log ?? ((msg: string) => process.stderr.write(`${msg}\n`))
  const stats: RunningServices['stats'] = { bboPublished: 0, arbitrageSignals: 0, priceRequests: {}, anomalies: [], decodeErrors: 0 }
  const decodeLog = new ThrottledLog((_k, detail, suppressed) => log(`services: cannot decode a message (${detail}); ${suppressed} more since the last report`))
  const connections: NatsConnection[] = []
  const open = async (name: string): Promise<NatsConnection> => {
    const nc = await connect({
      servers: options.natsUrl,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...options.credentials
    })
    connections.push(nc)
    return nc
  }
  const refuse = (msg: Msg, reason: string): void => {
    stats.decodeErrors++
    decodeLog.note('decode', `${msg.subject}: ${reason}`)
  }
  /** Every subscription here: what throws on a message is counted and logged, and the connection reads on. */
  const guarded = (handle: (msg: Msg) => void): ReturnType<typeof guardedCallback> =>
    guardedCallback(handle, (msg, err) => refuse(msg, failureReason(err)))
  const onQuote = (nc: NatsConnection, handle: (q: QuoteTick) => void): void => {
    nc.subscribe('quote.*.*', {
      callback: guarded((msg) => {
        const decoded = parseTick(msg.data)
        if (!decoded.ok || decoded.tick.type !== 'quote') return refuse(msg, decoded.ok ? 'not a quote' : decoded.reason)
        handle(decoded.tick)
      })
    })
  }

  // Consolidated BBO
  const bboConn = await open('tickfan-consolidator')
  const consolidator = new Consolidator()
  const stamper = new SequenceStamper()
  const bboHeaders = headers()
  const bboOptions = { headers: bboHeaders }
  onQuote(bboConn, (q) => {
    const sides = consolidator.update(q)
    if (sides === null) return
    const pubTime = nowEpochMs()
    const subject = bboSubject(q.symbol)
    const bbo: BboTick = { v: 1, type: 'bbo', ...sides, seq: stamper.next(subject, pubTime), pubTime, pubMono: nowMonoUs() }
    bboHeaders.set(SEQUENCE_HEADER, String(bbo.seq))
    bboConn.publish(subject, JSON.stringify(bbo), bboOptions)
    stats.bboPublished++
  })

  // Arbitrage watcher
  const arbConn = await open('tickfan-arbitrage')
  const watcher = new ArbitrageWatcher()
  onQuote(arbConn, (q) => {
    const signal = watcher.update(q)
    if (signal === null) return
    arbConn.publish(`${ARBITRAGE_PREFIX}.${q.symbol}`, JSON.stringify(signal))
    stats.arbitrageSignals++
  })

  // Reference price: a queue group
  for (let i = 0; i < (options.priceMembers ?? 3); i++) {
    const member = `price-${i + 1}`
    const nc = await open(`tickfan-${member}`)
    const book = new Consolidator()
    onQuote(nc, (q) => { book.update(q) })
    nc.subscribe('price.*', {
      queue: PRICE_QUEUE,
      callback: guarded((msg) => {
        const symbol = msg.subject.slice('price.'.length)
        const best = book.best(symbol)
        const reply: PriceReply = {
          v: 1,
          type: 'price',
          symbol,
          member,
          at: Date.now(),
          bid: best?.bid ?? null,
          ask: best?.ask ?? null,
          mid: best === null ? null : (best.bid + best.ask) / 2,
          venues: best?.venues ?? 0
        }
        stats.priceRequests[member] = (stats.priceRequests[member] ?? 0) + 1
        msg.respond(encoder.encode(JSON.stringify(reply)))
      })
    })
  }

  // Monitor
  const monConn = await open('tickfan-monitor')
  const detector = new AnomalyDetector({
    silentMs: options.silentMs ?? 3000,
    latencySpikeUs: options.latencySpikeUs ?? 50_000,
    spikeReportIntervalMs: 10_000
  })
  const alert = (a: Anomaly): void => {
    stats.anomalies.push(a)
    if (stats.anomalies.length > 100) stats.anomalies.shift()
    if (a.kind === 'venue_silent') consolidator.removeVenue(a.venue)
    monConn.publish(ALERTS_SUBJECT, JSON.stringify(a))
    log(`monitor: ${a.kind} ${a.venue}: ${a.detail}`)
  }
  for (const pattern of ['quote.>', 'trade.>']) {
    monConn.subscribe(pattern, {
      callback: guarded((msg) => {
        const decoded = parseTick(msg.data)
        if (!decoded.ok) return refuse(msg, decoded.reason)
        const a = detector.observe(decoded.tick.venue, nowMonoUs() - decoded.tick.pubMono)
        if (a !== null) alert(a)
      })
    })
  }
  const checker = setInterval(() => { for (const a of detector.check()) alert(a) }, 500)

  await Promise.all(connections.map((nc) => nc.flush()))
  return {
    connections,
    stats,
    async close () {
      clearInterval(checker)
      await Promise.all(connections.map((nc) => nc.close()))
    }
  }
}
