/**
 * Consolidated best bid and offer: from the latest quote of each venue for a symbol, the best
 * bid and the best ask across venues, with the venue of each side. Pure; the service that
 * subscribes `quote.*.<SYM>` and publishes `bbo.<SYM>` is in services.ts.
 *
 * A bbo.<SYM> message is itself a last-value tick (the whole state), so the broker caches and
 * conflates it like any quote.
 */
import { MAX_INSTRUMENTS_KEPT } from '../feeds/instruments.ts'
import type { BboTick, QuoteTick } from '../feeds/tick.ts'
import { RecentMap } from '../lib/recent-map.ts'

export type { BboTick }

export type BboSides = Pick<BboTick, 'symbol' | 'bid' | 'bidSize' | 'bidVenue' | 'ask' | 'askSize' | 'askVenue' | 'crossed' | 'venues'>

export class Consolidator {
  /** Books of at most `maxInstruments`, the one quoted longest ago dropped past it. */
  private readonly books: RecentMap<string, Map<string, QuoteTick>>

  constructor (maxInstruments = MAX_INSTRUMENTS_KEPT) {
    this.books = new RecentMap(maxInstruments)
  }

  /** Instruments dropped to keep at most `maxInstruments` books. */
  get instrumentsDropped (): number {
    return this.books.evicted
  }

  /** Takes a venue quote; returns the new consolidated sides when they changed, else null. */
  update (quote: QuoteTick): BboSides | null {
    let book = this.books.get(quote.symbol)
    if (book === undefined) book = new Map()
    this.books.set(quote.symbol, book) // now the most recently quoted
    const before = this.best(quote.symbol)
    book.set(quote.venue, quote)
    const after = this.best(quote.symbol)
    if (after === null) return null
    if (before !== null && sameSides(before, after)) return null
    return after
  }

  /** Forgets a venue (gone silent): its stale quote must not set the best price. */
  removeVenue (venue: string): void {
    for (const book of this.books.values()) book.delete(venue)
  }

  best (symbol: string): BboSides | null {
    const book = this.books.get(symbol)
    if (book === undefined || book.size === 0) return null
    let bid: QuoteTick | null = null
    let ask: QuoteTick | null = null
    for (const q of book.values()) {
      // Ties go to the larger size, then to the venue name, so the result does not depend on arrival order.
      if (bid === null || betterBid(q, bid)) bid = q
      if (ask === null || betterAsk(q, ask)) ask = q
    }
    if (bid === null || ask === null) return null
    return {
      symbol,
      bid: bid.bid,
      bidSize: bid.bidSize,
      bidVenue: bid.venue,
      ask: ask.ask,
      askSize: ask.askSize,
      askVenue: ask.venue,
      crossed: bid.bid > ask.ask,
      venues: book.size
    }
  }

  quotes (symbol: string): QuoteTick[] {
    return [...(this.books.get(symbol)?.values() ?? [])]
  }
}

/** A higher bid wins; at an equal price the larger size, then the venue name that sorts first. */
function betterBid (q: QuoteTick, best: QuoteTick): boolean {
  if (q.bid !== best.bid) return q.bid > best.bid
  return q.bidSize > best.bidSize || (q.bidSize === best.bidSize && q.venue < best.venue)
}

/** A lower ask wins; at an equal price the larger size, then the venue name that sorts first. */
function betterAsk (q: QuoteTick, best: QuoteTick): boolean {
  if (q.ask !== best.ask) return q.ask < best.ask
  return q.askSize > best.askSize || (q.askSize === best.askSize && q.venue < best.venue)
}

function sameSides (a: BboSides, b: BboSides): boolean {
  return a.bid === b.bid && a.bidSize === b.bidSize && a.bidVenue === b.bidVenue &&
    a.ask === b.ask && a.askSize === b.askSize && a.askVenue === b.askVenue && a.venues === b.venues
}
