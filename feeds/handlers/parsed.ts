/**
 * What a venue parser returns: normalised quotes and trades (canonical symbols, numbers),
 * rejects with a reason from one catalogue, or nothing (acks, heartbeats). Parsers are pure
 * and keep only the state a venue's sequence rules need; `reset()` on reconnect.
 */
import type { Instrument, SymbolMap } from '../instruments.ts'

export const RejectReason = {
  NotJson: 'not_json',
  MissingField: 'missing_field',
  BadNumber: 'bad_number',
  CrossedBook: 'crossed_book',
  UnknownSymbol: 'unknown_symbol',
  SequenceRegression: 'sequence_regression',
  UnknownMessage: 'unknown_message',
  VenueError: 'venue_error',
  /** A parser threw: a bug, counted and logged, never a crash (the fuzz tests require none). */
  InternalError: 'internal_error'
} as const
export type RejectReason = typeof RejectReason[keyof typeof RejectReason]

export interface ParsedQuote {
  kind: 'quote'
  instrument: Instrument
  bid: number
  bidSize: number
  ask: number
  askSize: number
  venueSeq: number | null
  /** ms since epoch, or null when the venue sends no time (Binance bookTicker). */
  venueTime: number | null
}

export interface ParsedTrade {
  kind: 'trade'
  instrument: Instrument
  price: number
  size: number
  side: 'buy' | 'sell'
  tradeId: string
  venueTime: number | null
}

export type Parsed = ParsedQuote | ParsedTrade

export interface Reject {
  reason: RejectReason
  detail: string
}

export interface ParseResult {
  ticks: Parsed[]
  rejects: Reject[]
}

export interface VenueParser {
  parse (text: string): ParseResult
  /** Forget per-connection state (sequence numbers) after a reconnect. */
  reset (): void
}

export const EMPTY: ParseResult = Object.freeze({
  ticks: Object.freeze([]) as unknown as Parsed[],
  rejects: Object.freeze([]) as unknown as Reject[]
})

export function rejected (reason: RejectReason, detail: string): ParseResult {
  return { ticks: [], rejects: [{ reason, detail }] }
}

/** A venue message as a JSON object, or the reject that says why it is not one. */
export function parseObject (text: string): {
  ok: true,
  message: Record<string,
  unknown>
} | { ok: false, result: ParseResult } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, result: rejected(RejectReason.NotJson, text.slice(0, 80)) }
  }
  if (value === null || typeof value !== 'object') return { ok: false, result: rejected(RejectReason.UnknownMessage, text.slice(0, 80)) }
  return { ok: true, message: value as Record<string, unknown> }
}

const DECIMAL = /^\d+(\.\d+)?$/

/**
 * A strictly positive finite number from a venue field: a decimal string (Binance, Coinbase)
 * or a JSON number (Kraken). Returns NaN for anything else (missing, non-numeric, negative, 0).
 */
export function positive (value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : Number.NaN
  if (typeof value !== 'string' || !DECIMAL.test(value)) return Number.NaN
  const n = Number(value)
  return n > 0 ? n : Number.NaN
}

/**
 * Any venue value as short text for a reject's detail. A value from JSON may be an object with
 * a `toString` key, which `String()` cannot convert (found by fuzzing); JSON text always works.
 */
export function shown (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined'
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function missing (value: unknown): boolean {
  return value === undefined || value === null
}

/**
 * Builds a quote after the checks every venue shares; a reject when one fails. Straight-line
 * checks with no per-message arrays: this runs for every venue message (bench:feeds).
 */
export function quoteOf (symbols: SymbolMap, venueSymbol: unknown, fields: Record<'bid' | 'bidSize' | 'ask' | 'askSize', unknown>,
  venueSeq: number | null, venueTime: number | null): Parsed | Reject {
  if (typeof venueSymbol !== 'string') return { reason: RejectReason.MissingField, detail: 'symbol' }
  if (missing(fields.bid)) return { reason: RejectReason.MissingField, detail: 'bid' }
  if (missing(fields.bidSize)) return { reason: RejectReason.MissingField, detail: 'bidSize' }
  if (missing(fields.ask)) return { reason: RejectReason.MissingField, detail: 'ask' }
  if (missing(fields.askSize)) return { reason: RejectReason.MissingField, detail: 'askSize' }
  const instrument = symbols.lookup(venueSymbol)
  if (instrument === undefined) return { reason: RejectReason.UnknownSymbol, detail: venueSymbol }
  const bid = positive(fields.bid)
  if (Number.isNaN(bid)) return { reason: RejectReason.BadNumber, detail: `bid=${JSON.stringify(fields.bid)}` }
  const bidSize = positive(fields.bidSize)
  if (Number.isNaN(bidSize)) return { reason: RejectReason.BadNumber, detail: `bidSize=${JSON.stringify(fields.bidSize)}` }
  const ask = positive(fields.ask)
  if (Number.isNaN(ask)) return { reason: RejectReason.BadNumber, detail: `ask=${JSON.stringify(fields.ask)}` }
  const askSize = positive(fields.askSize)
  if (Number.isNaN(askSize)) return { reason: RejectReason.BadNumber, detail: `askSize=${JSON.stringify(fields.askSize)}` }
  if (bid > ask) return { reason: RejectReason.CrossedBook, detail: `${venueSymbol} bid ${bid} > ask ${ask}` }
  return { kind: 'quote', instrument, bid, bidSize, ask, askSize, venueSeq, venueTime }
}

export function tradeOf (symbols: SymbolMap, venueSymbol: unknown, price: unknown, size: unknown, side: 'buy' | 'sell' | null,
  tradeId: unknown, venueTime: number | null): Parsed | Reject {
  if (typeof venueSymbol !== 'string') return { reason: RejectReason.MissingField, detail: 'symbol' }
  if (price === undefined || size === undefined || tradeId === undefined || tradeId === null) {
    return { reason: RejectReason.MissingField, detail: price === undefined ? 'price' : size === undefined ? 'size' : 'trade id' }
  }
  if (side === null) return { reason: RejectReason.MissingField, detail: 'side' }
  // An id is text or a number; anything else (found by fuzzing: an object that cannot even be
  // turned into a string) is refused.
  if (typeof tradeId !== 'string' && !(typeof tradeId === 'number' && Number.isFinite(tradeId))) return { reason: RejectReason.BadNumber, detail: `trade id=${JSON.stringify(tradeId)}` }
  const instrument = symbols.lookup(venueSymbol)
  if (instrument === undefined) return { reason: RejectReason.UnknownSymbol, detail: venueSymbol }
  const p = positive(price)
  const s = positive(size)
  if (Number.isNaN(p)) return { reason: RejectReason.BadNumber, detail: `price=${JSON.stringify(price)}` }
  if (Number.isNaN(s)) return { reason: RejectReason.BadNumber, detail: `size=${JSON.stringify(size)}` }
  return { kind: 'trade', instrument, price: p, size: s, side, tradeId: String(tradeId), venueTime }
}

export function isReject (value: Parsed | Reject): value is Reject {
  return 'reason' in value
}

/** Collects parsed items and rejects into one result. */
export function collect (items: Array<Parsed | Reject>): ParseResult {
  const result: ParseResult = { ticks: [], rejects: [] }
  for (const item of items) {
    if (isReject(item)) result.rejects.push(item)
    else result.ticks.push(item)
  }
  return result
}

/** Tracks a venue sequence per key; says whether a new value goes backwards (or repeats). */
export class SequenceGuard<K = string> {
  private readonly last = new Map<K, number>()

  /** True when `value` is not above the last one seen for `key` (and then it is not recorded). */
  regresses (key: K, value: number): boolean {
    const previous = this.last.get(key)
    if (previous !== undefined && value <= previous) return true
    this.last.set(key, value)
    return false
  }

  reset (): void {
    this.last.clear()
  }
}

/** Epoch ms from an RFC 3339 timestamp (sub-millisecond digits kept as a fraction), or null. */
export function parseRfc3339 (text: unknown): number | null {
  if (typeof text !== 'string') return null
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text)
  if (m === null) return null
  const whole = Date.parse(`${m[1] as string}Z`)
  if (Number.isNaN(whole)) return null
  const fraction = m[2] === undefined ? 0 : Number(`0.${m[2]}`) * 1000
  return whole + fraction
}
