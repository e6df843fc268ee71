/**
 * Arbitrage watcher: flags crossed markets across venues (one venue's bid above another's ask)
 * for a symbol. Edge-triggered ("notify and silence"): a signal when a crossing opens, one when
 * its best pair or edge changes materially, and one when it closes, not one per quote.
 */
import { MAX_INSTRUMENTS_KEPT } from '../feeds/instruments.ts'
import type { QuoteTick } from '../feeds/tick.ts'
import { RecentMap } from '../lib/recent-map.ts'
import { parseMessage } from '../lib/json-message.ts'

export interface ArbitrageSignal {
  v: 1
  type: 'arbitrage'
  symbol: string
  state: 'open' | 'update' | 'closed'
  /** Buy at this venue's ask... */
  buyVenue: string
  buyPrice: number
  /** ...and sell at this venue's bid. */
  sellVenue: string
  sellPrice: number
  /** (sell - buy) / buy, in basis points. */
  edgeBps: number
  /** Size available at both prices. */
  size: number
  at: number
}

export class ArbitrageWatcher {
  /** Books of at most `maxInstruments`, the one quoted longest ago dropped past it (its crossing with it). */
  private readonly quotes: RecentMap<string, Map<string, QuoteTick>>
  private readonly open = new Map<string, ArbitrageSignal>()

  constructor (
    private readonly minEdgeBps = 0,
    private readonly now: () => number = Date.now,
    maxInstruments = MAX_INSTRUMENTS_KEPT
  ) {
    this.quotes = new RecentMap(maxInstruments, (symbol) => this.open.delete(symbol))
  }

  /** Takes a venue quote; returns a signal when a crossing opens, changes or closes. */
  update (quote: QuoteTick): ArbitrageSignal | null {
    let book = this.quotes.get(quote.symbol)
    if (book === undefined) book = new Map()
    this.quotes.set(quote.symbol, book) // now the most recently quoted
    book.set(quote.venue, quote)
    const best = this.bestCrossing(book)
    const previous = this.open.get(quote.symbol)
    if (best === null) {
      if (previous === undefined) return null
      this.open.delete(quote.symbol)
      return { ...previous, state: 'closed', at: this.now() }
    }
    const signal: ArbitrageSignal = { v: 1, type: 'arbitrage', symbol: quote.symbol, state: previous === undefined ? 'open' : 'update', ...best, at: this.now() }
    if (previous !== undefined && previous.buyVenue === signal.buyVenue && previous.sellVenue === signal.sellVenue &&
      Math.abs(previous.edgeBps - signal.edgeBps) < 0.5) return null
    this.open.set(quote.symbol, signal)
    return signal
  }

  get openCount (): number {
    return this.open.size
  }

  private bestCrossing (book: Map<string, QuoteTick>): Pick<ArbitrageSignal, 'buyVenue' | 'buyPrice' | 'sellVenue' | 'sellPrice' | 'edgeBps' | 'size'> | null {
    let best: ReturnType<ArbitrageWatcher['bestCrossing']> = null
    for (const buy of book.values()) {
      for (const sell of book.values()) {
        if (buy.venue === sell.venue || sell.bid <= buy.ask) continue
        const edgeBps = (sell.bid - buy.ask) / buy.ask * 10_000
        if (edgeBps <= this.minEdgeBps) continue
        if (best === null || edgeBps > best.edgeBps) {
          best = {
            buyVenue: buy.venue,
            buyPrice: buy.ask,
            sellVenue: sell.venue,
            sellPrice: sell.bid,
            edgeBps,
            size: Math.min(buy.askSize, sell.bidSize)
          }
        }
      }
    }
    return best
  }
}

/** What a consumer of `signal.arbitrage.<SYM>` reads of a signal (the dashboard shows each of these). */
const SIGNAL_FIELDS = {
  symbol: 'string',
  state: 'string',
  buyVenue: 'string',
  buyPrice: 'number',
  sellVenue: 'string',
  sellPrice: 'number',
  edgeBps: 'number',
  at: 'number'
} as const

/** Decodes a signal from message bytes, or says why not (works in Node and in the browser). */
export function parseArbitrageSignal (
  data: Uint8Array
): { ok: true, signal: ArbitrageSignal } | { ok: false, reason: string } {
  const parsed = parseMessage<ArbitrageSignal>(data, SIGNAL_FIELDS)
  return parsed.ok ? { ok: true, signal: parsed.value } : parsed
}
