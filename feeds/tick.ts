/**
 * The canonical tick: what feed handlers publish and everyone else reads. A tick carries the
 * whole state (idempotent, last-value), never a delta, so a consumer can skip to the latest.
 *
 * Schema version 1 (field `v`). JSON on the wire, one tick per NATS message:
 *
 *   quote.<venue>.<BASE-QUOTE>   QuoteTick   (last-value subject: cached, conflated)
 *   trade.<venue>.<BASE-QUOTE>   TradeTick   (event subject: never conflated)
 *
 * The broker orders last values by the `Tickfan-Seq` header, which carries `seq`.
 */
import { parseJson } from '../lib/json-message.ts'
import { RecentMap } from '../lib/recent-map.ts'
import { MAX_INSTRUMENTS_KEPT, SYMBOL_PATTERN, VENUES, type Venue } from './instruments.ts'

export const TICK_SCHEMA_VERSION = 1

export interface TickTimes {
  /** Venue's own timestamp (ms since epoch); the handler's receive time when the venue gives none. */
  venueTime: number
  /** When the handler received the venue message (ms since epoch). */
  recvTime: number
  /** When the handler published (ms since epoch, fractional): comparable across hosts with synced clocks. */
  pubTime: number
  /**
   * When the handler published, in microseconds of CLOCK_MONOTONIC (process.hrtime): comparable
   * across processes on one host, immune to wall-clock steps. Latency is measured with it.
   */
  pubMono: number
}

export interface QuoteTick extends TickTimes {
  v: 1
  type: 'quote'
  venue: Venue
  symbol: string
  bid: number
  bidSize: number
  ask: number
  askSize: number
  /** The venue's own sequence for this update (Binance `u`, Coinbase `sequence_num`); null when it has none. */
  venueSeq: number | null
  /**
   * The ordering sequence for the broker's last-value cache: microseconds since the epoch at
   * publish, made strictly increasing per subject by the handler. It survives handler restarts
   * (a restarted handler never goes below what the cache holds) without shared state.
   */
  seq: number
  /** Present on the handler's idempotent re-publish of an unchanged value (same seq). */
  republish?: true
}

export interface TradeTick extends TickTimes {
  v: 1
  type: 'trade'
  venue: Venue
  symbol: string
  price: number
  size: number
  /** Aggressor side. */
  side: 'buy' | 'sell'
  tradeId: string
  seq: number
}

export type Tick = QuoteTick | TradeTick

/**
 * The consolidated best bid and offer across venues (bbo.<SYM>), derived by the consolidator
 * service: a last-value tick like a quote.
 */
export interface BboTick {
  v: 1
  type: 'bbo'
  symbol: string
  bid: number
  bidSize: number
  bidVenue: string
  ask: number
  askSize: number
  askVenue: string
  /** Best bid above best ask: venues disagree enough to trade against each other. */
  crossed: boolean
  /** Venues contributing a quote. */
  venues: number
  seq: number
  pubTime: number
  pubMono: number
}

/** Everything on the market-data subjects: venue ticks and derived BBOs. */
export type MarketData = Tick | BboTick

export function quoteSubject (venue: string, symbol: string): string {
  return `quote.${venue}.${symbol}`
}

export function tradeSubject (venue: string, symbol: string): string {
  return `trade.${venue}.${symbol}`
}

export function bboSubject (symbol: string): string {
  return `bbo.${symbol}`
}

export function subjectOf (tick: Tick): string {
  return tick.type === 'quote' ? quoteSubject(tick.venue, tick.symbol) : tradeSubject(tick.venue, tick.symbol)
}

/** Epoch milliseconds with sub-millisecond precision. */
export function nowEpochMs (): number {
  return performance.timeOrigin + performance.now()
}

/** Microseconds of CLOCK_MONOTONIC. */
export function nowMonoUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * Serialises a tick: the same text as JSON.stringify(tick) (tested as a property), built from
 * a template because the schema is fixed. Venue and symbol come from the instrument table;
 * the only venue-supplied string, tradeId, is escaped by JSON.stringify. Measured with
 * `npm run bench:feeds`: about 10% more ticks/s per handler core for the Binance format.
 */
export function encodeTick (t: Tick): string {
  const rep = t.type === 'quote' && t.republish === true ? ',"republish":true' : ''
  if (t.type === 'quote') {
    return `{"v":1,"type":"quote","venue":"${t.venue}","symbol":"${t.symbol}","bid":${t.bid},"bidSize":${t.bidSize},"ask":${t.ask},"askSize":${t.askSize},"venueSeq":${t.venueSeq === null ? 'null' : t.venueSeq},"seq":${t.seq},"venueTime":${t.venueTime},"recvTime":${t.recvTime},"pubTime":${t.pubTime},"pubMono":${t.pubMono}${rep}}`
  }
  return `{"v":1,"type":"trade","venue":"${t.venue}","symbol":"${t.symbol}","price":${t.price},"size":${t.size},"side":"${t.side}","tradeId":${JSON.stringify(t.tradeId)},"seq":${t.seq},"venueTime":${t.venueTime},"recvTime":${t.recvTime},"pubTime":${t.pubTime},"pubMono":${t.pubMono}}`
}

const NUMBER_FIELDS: Record<MarketData['type'], readonly string[]> = {
  quote: ['bid', 'bidSize', 'ask', 'askSize', 'seq', 'venueTime', 'recvTime', 'pubTime', 'pubMono'],
  trade: ['price', 'size', 'seq', 'venueTime', 'recvTime', 'pubTime', 'pubMono'],
  bbo: ['bid', 'bidSize', 'ask', 'askSize', 'seq', 'venues', 'pubTime', 'pubMono']
}

type Decoded<T> = { ok: true, tick: T } | { ok: false, reason: string }

/**
 * Consumers put a tick's symbol and venue in subjects (`bbo.<SYM>`) and in the dashboard's
 * page, so a tick whose symbol is not canonical (SYMBOL_PATTERN) or whose venue is unknown is
 * rejected: before, one whose symbol was markup ran script in the dashboard, and its `bbo.`
 * subject, illegal, closed the consolidator's connection (dashboard/dashboard.test.ts).
 */
const KNOWN_VENUES: ReadonlySet<string> = new Set(VENUES)
const shown = (value: unknown): string => JSON.stringify(value).slice(0, 40)

/**
 * Checks that a decoded JSON value is market data (a venue tick or a BBO); returns it typed, or
 * a reason. Used by every consumer, so a malformed message is counted and skipped, never
 * crashes anyone.
 */
export function decodeMarketData (value: unknown): Decoded<MarketData> {
  if (value === null || typeof value !== 'object') return { ok: false, reason: 'not an object' }
  const t = value as Record<string, unknown>
  if (t.v !== TICK_SCHEMA_VERSION) return { ok: false, reason: `unsupported schema version ${JSON.stringify(t.v)}` }
  const numbers = typeof t.type === 'string' ? NUMBER_FIELDS[t.type as MarketData['type']] : undefined
  if (numbers === undefined) return { ok: false, reason: `unknown type ${JSON.stringify(t.type)}` }
  if (typeof t.symbol !== 'string' || (t.type !== 'bbo' && typeof t.venue !== 'string')) return { ok: false, reason: 'missing venue or symbol' }
  for (const key of numbers) {
    if (typeof t[key] !== 'number' || !Number.isFinite(t[key])) return { ok: false, reason: `field ${key} is not a number` }
  }
  if (!SYMBOL_PATTERN.test(t.symbol)) return { ok: false, reason: `symbol ${shown(t.symbol)} is not BASE-QUOTE` }
  if (t.type !== 'bbo' && !KNOWN_VENUES.has(t.venue as string)) return { ok: false, reason: `unknown venue ${shown(t.venue)}` }
  if (t.type === 'trade' && t.side !== 'buy' && t.side !== 'sell') return { ok: false, reason: `side ${shown(t.side)} is not buy or sell` }
  return { ok: true, tick: value as MarketData }
}

/** Like decodeMarketData, for consumers of venue ticks only (quotes and trades). */
export function decodeTick (value: unknown): Decoded<Tick> {
  const decoded = decodeMarketData(value)
  if (!decoded.ok) return decoded
  if (decoded.tick.type === 'bbo') return { ok: false, reason: 'unknown type "bbo"' }
  return { ok: true, tick: decoded.tick }
}

/** Decodes a venue tick from message bytes (works in Node and in the browser). */
export function parseTick (data: Uint8Array): Decoded<Tick> {
  const json = parseJson(data)
  return json.ok ? decodeTick(json.value) : json
}

/** Decodes any market data (venue tick or BBO) from message bytes. */
export function parseMarketData (data: Uint8Array): Decoded<MarketData> {
  const json = parseJson(data)
  return json.ok ? decodeMarketData(json.value) : json
}

/**
 * Stamps the broker-ordering `seq`: microseconds since the epoch at publish, made strictly
 * increasing per subject. Used by feed handlers and by replay.
 */
export function nextSequence (last: number, pubTimeMs: number): number {
  return Math.max(last + 1, Math.floor(pubTimeMs * 1000))
}

/**
 * `nextSequence` per subject, remembering at most `maxSubjects` (the one stamped longest ago
 * forgotten past it: the BBOs of ever new instruments grew the services without bound). A
 * forgotten subject restarts at its publish time in microseconds, above any sequence it had
 * unless it was stamped faster than one a microsecond until it was forgotten.
 */
export class SequenceStamper {
  private readonly last: RecentMap<string, number>

  constructor (maxSubjects = MAX_INSTRUMENTS_KEPT * 8) {
    this.last = new RecentMap(maxSubjects)
  }

  next (subject: string, pubTimeMs: number): number {
    const seq = nextSequence(this.last.get(subject) ?? 0, pubTimeMs)
    this.last.set(subject, seq)
    return seq
  }
}
