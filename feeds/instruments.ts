/**
 * The instruments the simulated market trades, and how each venue spells them.
 * Canonical symbols are `BASE-QUOTE` (`BTC-USD`); Binance writes `BTCUSD`, Coinbase `BTC-USD`,
 * Kraken v2 `BTC/USD`.
 */

export interface Instrument {
  /** Canonical `BASE-QUOTE`. */
  readonly symbol: string
  readonly base: string
  readonly quote: string
  /** Price increment. */
  readonly tickSize: number
  /** Decimals of a price (from the tick size). */
  readonly priceDecimals: number
  /** Size increment. */
  readonly lotSize: number
  readonly sizeDecimals: number
  /** Starting fair value. */
  readonly startPrice: number
  /** Volatility per square root of a second (fraction of price). */
  readonly volPerSqrtSec: number
}

export const VENUES = ['binance', 'coinbase', 'kraken'] as const
export type Venue = typeof VENUES[number]

/**
 * What a quote's `venueSeq` counts, per venue: per instrument (the simulated Binance numbers each
 * symbol's book tickers 1, 2, 3...), per connection (Coinbase's `sequence_num` is shared by every
 * product and channel, so a gap on one subject is normal), or nothing (Kraken sends none). Only
 * per-instrument sequences show a subscriber the updates it did not see.
 */
export const VENUE_SEQUENCE_SCOPE: Record<Venue, 'instrument' | 'connection' | 'none'> = { binance: 'instrument', coinbase: 'connection', kraken: 'none' }

function decimalsOf (step: number): number {
  const text = step.toString()
  return text.includes('e-') ? Number(text.split('e-')[1]) : (text.split('.')[1]?.length ?? 0)
}

/** A canonical symbol: `BASE-QUOTE`, capital letters and digits (what a tick may carry: tick.ts). */
export const SYMBOL_PATTERN = /^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/

/**
 * The instruments a consumer keeps state for (a book, a value held): past it, the one updated
 * longest ago is dropped (lib/recent-map.ts), so a publisher of ever new instruments cannot grow
 * a service or a bot without bound. Venues list a few thousand each.
 */
export const MAX_INSTRUMENTS_KEPT = 10_000

export function defineInstrument (
  symbol: string,
  tickSize: number,
  lotSize: number,
  startPrice: number,
  volPerSqrtSec: number
): Instrument {
  if (!SYMBOL_PATTERN.test(symbol)) throw new RangeError(`instrument ${JSON.stringify(symbol)} is not BASE-QUOTE (capital letters and digits)`)
  const [base, quote] = symbol.split('-') as [string, string]
  return {
    symbol,
    base,
    quote,
    tickSize,
    priceDecimals: decimalsOf(tickSize),
    lotSize,
    sizeDecimals: decimalsOf(lotSize),
    startPrice,
    volPerSqrtSec
  }
}

/** The default market: five coins against USD, three against USDT. */
export const DEFAULT_INSTRUMENTS: readonly Instrument[] = [
  defineInstrument('BTC-USD', 0.01, 0.00001, 64_000, 0.0004),
  defineInstrument('ETH-USD', 0.01, 0.0001, 3_200, 0.0005),
  defineInstrument('SOL-USD', 0.01, 0.001, 150, 0.0007),
  defineInstrument('XRP-USD', 0.0001, 0.1, 0.55, 0.0008),
  defineInstrument('DOGE-USD', 0.00001, 1, 0.12, 0.0009),
  defineInstrument('BTC-USDT', 0.01, 0.00001, 64_010, 0.0004),
  defineInstrument('ETH-USDT', 0.01, 0.0001, 3_201, 0.0005),
  defineInstrument('SOL-USDT', 0.01, 0.001, 150.05, 0.0007)
]

export function findInstruments (
  symbols: readonly string[],
  from: readonly Instrument[] = DEFAULT_INSTRUMENTS
): Instrument[] {
  return symbols.map((s) => {
    const found = from.find((i) => i.symbol === s)
    if (found === undefined) throw new RangeError(`unknown instrument ${JSON.stringify(s)}; known: ${from.map((i) => i.symbol).join(', ')}`)
    return found
  })
}

export function venueSymbol (venue: Venue, instrument: Pick<Instrument, 'base' | 'quote'>): string {
  switch (venue) {
    case 'binance': return `${instrument.base}${instrument.quote}`
    case 'coinbase': return `${instrument.base}-${instrument.quote}`
    case 'kraken': return `${instrument.base}/${instrument.quote}`
  }
}

/** Maps a venue's spelling back to the instrument, for the handlers. */
export class SymbolMap {
  private readonly byVenueSymbol = new Map<string, Instrument>()
  constructor (readonly venue: Venue, instruments: readonly Instrument[] = DEFAULT_INSTRUMENTS) {
    for (const i of instruments) this.byVenueSymbol.set(venueSymbol(venue, i), i)
  }

  lookup (venueSpelling: string): Instrument | undefined {
    return this.byVenueSymbol.get(venueSpelling)
  }
}

/** A number rounded to `decimals`, as the venue would print it and a parser read it back. */
export function roundTo (value: number, decimals: number): number {
  return Number(value.toFixed(decimals))
}
