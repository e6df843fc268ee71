/**
 * A feed handler: connects to one venue as a WebSocket client, subscribes, parses every message
 * with the venue's pure parser, normalises it to canonical ticks and publishes them.
 *
 * - Reconnects with exponential backoff (and jitter), resubscribes, resets per-connection
 *   sequence state.
 * - Detects a stalled venue: no message, heartbeat or ping for `stallMs` -> drop and reconnect.
 * - Bad input is rejected, counted per reason, logged at most once per reason per interval, and
 *   never published; the handler keeps running.
 * - Idempotent heartbeat: every quote's last value is re-published when it has not changed for
 *   `republishMs` (same data, same `seq`), so a restarted broker or a late subscriber regains
 *   the whole state within that time without any replay machinery.
 * - `seq` (the broker's last-value order) is microseconds since the epoch at publish, made
 *   strictly increasing per subject.
 */
import WebSocket from 'ws'
import type { Instrument, Venue } from '../instruments.ts'
import type { TickRecorder } from '../recorder.ts'
import { ThrottledLog } from '../../lib/throttled-log.ts'
import { nextSequence, nowEpochMs, nowMonoUs, quoteSubject, tradeSubject, type QuoteTick, type Tick, type TradeTick } from '../tick.ts'
import { BinanceParser, binanceSubscribeMessages } from './binance.ts'
import { CoinbaseParser, coinbaseSubscribeMessages } from './coinbase.ts'
import { KrakenParser, krakenSubscribeMessages } from './kraken.ts'
import { RejectReason, type ParseResult, type Parsed, type VenueParser } from './parsed.ts'

export interface VenueClientProtocol {
  /** Path appended to the venue URL. */
  path: string
  subscribeMessages (instruments: readonly Instrument[]): string[]
  createParser (instruments: readonly Instrument[]): VenueParser
}

export const VENUE_CLIENTS: Record<Venue, VenueClientProtocol> = {
  binance: { path: '/stream', subscribeMessages: binanceSubscribeMessages, createParser: (i) => new BinanceParser(i) },
  coinbase: { path: '/', subscribeMessages: coinbaseSubscribeMessages, createParser: (i) => new CoinbaseParser(i) },
  kraken: { path: '/v2', subscribeMessages: krakenSubscribeMessages, createParser: (i) => new KrakenParser(i) }
}

/** Where ticks go: the official NATS client in production, a fake in unit tests. */
export interface TickPublisher {
  publish (subject: string, tick: Tick): void
}

export interface HandlerLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface FeedHandlerOptions {
  venue: Venue
  /** The venue's WebSocket base URL, e.g. ws://127.0.0.1:9001 */
  url: string
  instruments: readonly Instrument[]
  publisher: TickPublisher
  /** No message for this long means the venue stalled: reconnect. Default 5000 ms. */
  stallMs?: number
  /** Re-publish an unchanged quote after this long; 0 disables. Default 1000 ms. */
  republishMs?: number
  /** First reconnect delay; doubles up to maxBackoffMs. Default 250 ms. */
  initialBackoffMs?: number
  /** Default 10000 ms. */
  maxBackoffMs?: number
  /** Interval of reject log lines per reason. Default 10000 ms. */
  rejectLogIntervalMs?: number
  recorder?: TickRecorder | null
  logger?: HandlerLogger
}

export interface FeedHandlerStats {
  connected: boolean
  messages: number
  quotes: number
  trades: number
  republished: number
  rejected: number
  rejects: Partial<Record<RejectReason, number>>
  connects: number
  stalls: number
}

const silent: HandlerLogger = { info () {}, warn () {} }

interface Lane {
  readonly quoteSubject: string
  readonly tradeSubject: string
  quoteSeq: number
  tradeSeq: number
  lastQuote: QuoteTick | null
  lastQuoteAt: number
}

export class FeedHandler {
  readonly stats: FeedHandlerStats = {
    connected: false,
    messages: 0,
    quotes: 0,
    trades: 0,
    republished: 0,
    rejected: 0,
    rejects: {},
    connects: 0,
    stalls: 0
  }
  private readonly protocol: VenueClientProtocol
  private readonly parser: VenueParser
  /** Per instrument: its subjects (built once), sequences and last quote. Keyed by identity. */
  private readonly lanes = new Map<Instrument, Lane>()
  private readonly rejectLog: ThrottledLog
  private readonly logger: HandlerLogger
  private ws: WebSocket | null = null
  private stopped = true
  private backoffMs: number
  private lastActivity = 0
  private reconnectTimer: NodeJS.Timeout | null = null
  private watchdog: NodeJS.Timeout | null = null
  private republisher: NodeJS.Timeout | null = null
  private connectedWaiters: Array<() => void> = []

  constructor (private readonly options: FeedHandlerOptions) {
    this.protocol = VENUE_CLIENTS[options.venue]
    this.parser = this.protocol.createParser(options.instruments)
    this.logger = options.logger ?? silent
    this.backoffMs = options.initialBackoffMs ?? 250
    this.rejectLog = new ThrottledLog((reason, detail, suppressed) => {
      this.logger.warn({ venue: options.venue, reason, detail, suppressed }, 'venue message rejected')
    }, options.rejectLogIntervalMs ?? 10_000)
  }

  get venue (): Venue {
    return this.options.venue
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
    const stallMs = this.options.stallMs ?? 5000
    this.watchdog = setInterval(() => this.checkStall(stallMs), Math.max(50, stallMs / 4))
    const republishMs = this.options.republishMs ?? 1000
    if (republishMs > 0) this.republisher = setInterval(
      () => this.republish(republishMs),
      Math.max(50, republishMs / 2)
    )
  }

  /** Resolves once connected (and subscribed). */
  connected (): Promise<void> {
    if (this.stats.connected) return Promise.resolve()
    return new Promise((resolve) => this.connectedWaiters.push(resolve))
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const t of [this.reconnectTimer, this.watchdog, this.republisher]) if (t !== null) clearTimeout(t)
    const ws = this.ws
    this.ws = null
    if (ws !== null && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve())
        ws.terminate()
      })
    }
    this.stats.connected = false
  }

  /**
   * Parses one venue message and publishes what it holds. Public so the benchmark can drive the
   * parse-normalise-publish path without a socket.
   */
  handleMessage (text: string, recvTime: number = nowEpochMs()): void {
    this.stats.messages++
    let result: ParseResult
    try {
      result = this.parser.parse(text)
    } catch (err) {
      result = { ticks: [], rejects: [{ reason: RejectReason.InternalError, detail: `${(err as Error).message}: ${text.slice(0, 80)}` }] }
    }
    const { ticks, rejects } = result
    for (const r of rejects) {
      this.stats.rejected++
      this.stats.rejects[r.reason] = (this.stats.rejects[r.reason] ?? 0) + 1
      this.rejectLog.note(r.reason, r.detail)
    }
    for (const p of ticks) this.publishParsed(p, recvTime)
  }

  private laneOf (instrument: Instrument): Lane {
    let lane = this.lanes.get(instrument)
    if (lane === undefined) {
      const { venue } = this.options
      lane = {
        quoteSubject: quoteSubject(venue, instrument.symbol),
        tradeSubject: tradeSubject(venue, instrument.symbol),
        quoteSeq: 0,
        tradeSeq: 0,
        lastQuote: null,
        lastQuoteAt: 0
      }
      this.lanes.set(instrument, lane)
    }
    return lane
  }

  private publishParsed (p: Parsed, recvTime: number): void {
    const venue = this.options.venue
    const symbol = p.instrument.symbol
    const lane = this.laneOf(p.instrument)
    const pubTime = nowEpochMs()
    const pubMono = nowMonoUs()
    if (p.kind === 'quote') {
      lane.quoteSeq = nextSequence(lane.quoteSeq, pubTime)
      const tick: QuoteTick = {
        v: 1, type: 'quote', venue, symbol, bid: p.bid, bidSize: p.bidSize, ask: p.ask, askSize: p.askSize,
        venueSeq: p.venueSeq, seq: lane.quoteSeq, venueTime: p.venueTime ?? recvTime, recvTime, pubTime, pubMono
      }
      this.emit(lane.quoteSubject, tick)
      lane.lastQuote = tick
      lane.lastQuoteAt = pubTime
      this.stats.quotes++
    } else {
      lane.tradeSeq = nextSequence(lane.tradeSeq, pubTime)
      const tick: TradeTick = {
        v: 1, type: 'trade', venue, symbol, price: p.price, size: p.size, side: p.side, tradeId: p.tradeId,
        seq: lane.tradeSeq, venueTime: p.venueTime ?? recvTime, recvTime, pubTime, pubMono
      }
      this.emit(lane.tradeSubject, tick)
      this.stats.trades++
    }
  }

  private emit (subject: string, tick: Tick): void {
    this.options.publisher.publish(subject, tick)
    this.options.recorder?.record(subject, tick)
  }

  /** The seed's "keep sending message 10": the same state, the same seq, a fresh publish time. */
  private republish (republishMs: number): void {
    const now = nowEpochMs()
    for (const lane of this.lanes.values()) {
      if (lane.lastQuote === null || now - lane.lastQuoteAt < republishMs) continue
      const tick: QuoteTick = { ...lane.lastQuote, pubTime: now, pubMono: nowMonoUs(), republish: true }
      this.options.publisher.publish(lane.quoteSubject, tick)
      lane.lastQuoteAt = now
      this.stats.republished++
    }
  }

  private connect (): void {
    if (this.stopped) return
    const url = this.options.url.replace(/\/$/, '') + this.protocol.path
    const ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws = ws
    this.lastActivity = Date.now()
    ws.on('open', () => {
      this.parser.reset()
      for (const m of this.protocol.subscribeMessages(this.options.instruments)) ws.send(m)
      this.stats.connected = true
      this.stats.connects++
      this.backoffMs = this.options.initialBackoffMs ?? 250
      this.logger.info({ venue: this.options.venue, url }, 'venue connected')
      for (const w of this.connectedWaiters.splice(0)) w()
    })
    ws.on('message', (data: WebSocket.RawData) => {
      this.lastActivity = Date.now()
      this.handleMessage(data.toString())
    })
    ws.on('ping', () => { this.lastActivity = Date.now() })
    ws.on('error', (err) => this.logger.warn({ venue: this.options.venue, err: err.message }, 'venue connection error'))
    ws.on('close', () => {
      if (this.ws !== ws) return
      this.ws = null
      if (this.stats.connected) this.logger.warn({ venue: this.options.venue }, 'venue disconnected')
      this.stats.connected = false
      this.scheduleReconnect()
    })
  }

  private scheduleReconnect (): void {
    if (this.stopped || this.reconnectTimer !== null) return
    const delay = this.backoffMs * (0.5 + Math.random() / 2)
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 10_000)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, delay)
  }

  private checkStall (stallMs: number): void {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) return
    if (Date.now() - this.lastActivity > stallMs) {
      this.stats.stalls++
      this.logger.warn({ venue: this.options.venue, silentMs: Date.now() - this.lastActivity }, 'venue stalled: reconnecting')
      ws.terminate()
    }
  }
}
