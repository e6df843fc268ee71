import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_INSTRUMENTS, defineInstrument, roundTo, type Instrument, type Venue } from '../instruments.ts'
import type { MarketEvent } from '../market-model.ts'
import { newSession, type StampedEvent } from '../venues/protocol.ts'
import { VENUE_PROTOCOLS } from '../venues/venue-server.ts'
import { BinanceParser } from './binance.ts'
import { CoinbaseParser } from './coinbase.ts'
import { KrakenParser } from './kraken.ts'
import type { ParsedQuote, ParsedTrade, VenueParser } from './parsed.ts'

const BNB = defineInstrument('BNB-USDT', 0.0001, 0.01, 25, 0.001)
const BNBBTC = defineInstrument('BNB-BTC', 0.000001, 0.001, 0.01, 0.001)
const ALGO = defineInstrument('ALGO-USD', 0.00001, 0.1, 0.1, 0.001)

function parserFor (venue: Venue, instruments: readonly Instrument[] = DEFAULT_INSTRUMENTS): VenueParser {
  return venue === 'binance' ? new BinanceParser(instruments) : venue === 'coinbase' ? new CoinbaseParser(instruments) : new KrakenParser(instruments)
}

describe('venue parsers on the documented sample messages', () => {
  it('reads a Binance bookTicker (combined stream)', () => {
    const p = new BinanceParser([BNB])
    const r = p.parse('{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}')
    expect(r.rejects).toEqual([])
    expect(r.ticks[0]).toMatchObject({ kind: 'quote', bid: 25.3519, bidSize: 31.21, ask: 25.3652, askSize: 40.66, venueSeq: 400900217, venueTime: null })
    expect(r.ticks[0]?.instrument.symbol).toBe('BNB-USDT')
  })

  it('reads a Binance trade', () => {
    const p = new BinanceParser([BNBBTC])
    const r = p.parse('{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}')
    expect(r.ticks[0]).toMatchObject({ kind: 'trade', price: 0.001, size: 100, side: 'sell', tradeId: '12345', venueTime: 1672515782136 })
  })

  it('reads a Coinbase ticker snapshot', () => {
    const p = new CoinbaseParser()
    const r = p.parse('{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}')
    expect(r.rejects).toEqual([])
    const q = r.ticks[0] as ParsedQuote
    expect(q).toMatchObject({ bid: 21931.98, bidSize: 8000.21, ask: 21933.98, askSize: 8038.07770938, venueSeq: 0 })
    expect(q.venueTime).toBeCloseTo(Date.parse('2023-02-09T20:30:37.167Z') + 0.359596, 5)
  })

  it('reads a Kraken v2 ticker', () => {
    const p = new KrakenParser([ALGO])
    const r = p.parse('{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10035,"ask_qty":740.0,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-09-25T09:04:31.742648Z"}]}')
    expect(r.ticks[0]).toMatchObject({ kind: 'quote', bid: 0.10025, bidSize: 740, ask: 0.10035, askSize: 740, venueSeq: null })
  })

  it.each<[Venue, string]>([
    ['binance', '{"result":null,"id":1}'],
    ['coinbase', '{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56","heartbeat_counter":3049}]}'],
    ['kraken', '{"channel":"heartbeat"}'],
    ['kraken', '{"method":"subscribe","result":{"channel":"ticker","symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}']
  ])('treats %s control messages as neither ticks nor rejects', (venue, text) => {
    expect(parserFor(venue).parse(text)).toEqual({ ticks: [], rejects: [] })
  })
})

const arbitraryQuote = (instruments: readonly Instrument[]): fc.Arbitrary<MarketEvent> => fc.record({
  i: fc.nat({ max: instruments.length - 1 }),
  bidTicks: fc.integer({ min: 1, max: 10_000_000 }),
  spread: fc.integer({ min: 0, max: 50 }),
  bidLots: fc.integer({ min: 1, max: 1_000_000 }),
  askLots: fc.integer({ min: 1, max: 1_000_000 }),
  t: fc.integer({ min: 0, max: 10_000_000 })
}).map(({ i, bidTicks, spread, bidLots, askLots, t }) => {
  const instrument = instruments[i] as Instrument
  return {
    type: 'quote' as const,
    t,
    instrument,
    bid: roundTo(bidTicks * instrument.tickSize, instrument.priceDecimals),
    ask: roundTo((bidTicks + spread) * instrument.tickSize, instrument.priceDecimals),
    bidSize: roundTo(bidLots * instrument.lotSize, instrument.sizeDecimals),
    askSize: roundTo(askLots * instrument.lotSize, instrument.sizeDecimals)
  }
})

const arbitraryTrade = (instruments: readonly Instrument[]): fc.Arbitrary<MarketEvent> => fc.record({
  i: fc.nat({ max: instruments.length - 1 }),
  ticks: fc.integer({ min: 1, max: 10_000_000 }),
  lots: fc.integer({ min: 1, max: 1_000_000 }),
  buy: fc.boolean(),
  t: fc.integer({ min: 0, max: 10_000_000 })
}).map(({ i, ticks, lots, buy, t }) => {
  const instrument = instruments[i] as Instrument
  return {
    type: 'trade' as const,
    t,
    instrument,
    price: roundTo(ticks * instrument.tickSize, instrument.priceDecimals),
    size: roundTo(lots * instrument.lotSize, instrument.sizeDecimals),
    side: buy ? 'buy' as const : 'sell' as const
  }
})

describe.each<Venue>(['binance', 'coinbase', 'kraken'])('%s: what the simulated venue encodes, the handler parses back', (venue) => {
  it('gives back every quote and trade it encoded', () => {
    const protocol = VENUE_PROTOCOLS[venue]
    fc.assert(fc.property(fc.array(
      fc.oneof(arbitraryQuote(DEFAULT_INSTRUMENTS), arbitraryTrade(DEFAULT_INSTRUMENTS)),
      { minLength: 1, maxLength: 30 }
    ), (events) => {
      const session = newSession()
      session.combined = true
      const parser = parserFor(venue)
      const start = Date.UTC(2026, 10, 26)
      events.forEach((event, k) => {
        const stamped: StampedEvent = { event, venueTimeMs: start + k * 1.5 + 0.25, id: k + 1 }
        const { ticks, rejects } = parser.parse(protocol.encode(stamped, session))
        expect(rejects).toEqual([])
        expect(ticks).toHaveLength(1)
        const tick = ticks[0]
        expect(tick?.instrument.symbol).toBe(event.instrument.symbol)
        if (event.type === 'quote') {
          expect(tick).toMatchObject({ kind: 'quote', bid: event.bid, ask: event.ask, bidSize: event.bidSize, askSize: event.askSize })
          if (venue === 'binance') expect((tick as ParsedQuote).venueSeq).toBe(k + 1)
          if (venue !== 'binance') expect((tick as ParsedQuote).venueTime).toBeCloseTo(stamped.venueTimeMs, 3)
        } else {
          expect(tick).toMatchObject({ kind: 'trade', price: event.price, size: event.size, side: event.side, tradeId: String(k + 1) })
          expect((tick as ParsedTrade).venueTime).toBeCloseTo(venue === 'binance' ? Math.floor(stamped.venueTimeMs) : stamped.venueTimeMs, 3)
        }
      })
    }), { numRuns: 200 })
  })
})

describe('bad venue input is rejected with a reason', () => {
  const binance = (data: Record<string, unknown>): string => JSON.stringify({ stream: 'btcusdt@bookTicker', data: { u: 1, s: 'BTCUSDT', b: '1.00', B: '1', a: '1.01', A: '1', ...data } })
  it.each<[string, VenueParser | (() => VenueParser), string, string]>([
    ['not JSON', () => new BinanceParser(), '{"u":1,', 'not_json'],
    ['a missing field', () => new BinanceParser(), JSON.stringify({ stream: 'x', data: { u: 1, s: 'BTCUSDT', b: '1.00', B: '1', a: '1.01' } }), 'missing_field'],
    ['a non-numeric price', () => new BinanceParser(), binance({ b: 'abc' }), 'bad_number'],
    ['a negative price', () => new BinanceParser(), binance({ b: '-1.00' }), 'bad_number'],
    ['a negative size (float venue)', () => new KrakenParser(), '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1,"bid_qty":-2,"ask":1.1,"ask_qty":1,"timestamp":"2023-09-25T09:04:31.742648Z"}]}', 'bad_number'],
    ['a zero price', () => new CoinbaseParser(), '{"channel":"ticker","timestamp":"2023-02-09T20:30:37.1Z","sequence_num":1,"events":[{"type":"update","tickers":[{"product_id":"BTC-USD","best_bid":"0","best_bid_quantity":"1","best_ask":"1","best_ask_quantity":"1"}]}]}', 'bad_number'],
    ['bid above ask', () => new BinanceParser(), binance({ b: '2.00', a: '1.00' }), 'crossed_book'],
    ['an unknown symbol', () => new BinanceParser(), binance({ s: 'FOOBAR' }), 'unknown_symbol'],
    ['an unknown Kraken pair', () => new KrakenParser(), '{"channel":"trade","type":"update","data":[{"symbol":"FOO/USD","side":"buy","price":1,"qty":1,"trade_id":1,"timestamp":"2023-09-25T09:04:31.742648Z"}]}', 'unknown_symbol'],
    ['an unknown message', () => new KrakenParser(), '{"channel":"book","data":[]}', 'unknown_message'],
    ['a channel that is an object (found by fuzzing)', () => new KrakenParser(), '{"channel":{"toString":0},"type":"snapshot","data":[]}', 'unknown_message'],
    ['a trade id that is an object (found by fuzzing)', () => new BinanceParser(), '{"stream":"ethusdt@trade","data":{"e":"trade","E":1,"s":"ETHUSDT","t":{"toString":0},"p":"3200.97","q":"0.1624","T":1,"m":false}}', 'bad_number'],
    ['a venue error', () => new CoinbaseParser(), '{"type":"error","message":"boom"}', 'venue_error']
  ])('%s', (_name, make, text, reason) => {
    const parser = typeof make === 'function' ? make() : make
    const result = parser.parse(text)
    expect(result.ticks).toEqual([])
    expect(result.rejects.map((r) => r.reason)).toEqual([reason])
  })

  it('rejects a venue sequence that goes backwards, per venue rules', () => {
    const b = new BinanceParser()
    expect(b.parse(binance({ u: 10 })).ticks).toHaveLength(1)
    expect(b.parse(binance({ u: 9 })).rejects[0]?.reason).toBe('sequence_regression')
    expect(b.parse(binance({ u: 11 })).ticks).toHaveLength(1)
    const c = new CoinbaseParser()
    const hb = (n: number): string => `{"channel":"heartbeats","timestamp":"2023-02-09T20:30:37.1Z","sequence_num":${n},"events":[]}`
    expect(c.parse(hb(5)).rejects).toEqual([])
    expect(c.parse(hb(4)).rejects[0]?.reason).toBe('sequence_regression')
    c.reset() // a new connection starts its own sequence
    expect(c.parse(hb(0)).rejects).toEqual([])
    const k = new KrakenParser()
    const trade = (id: number): string => `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"trade_id":${id},"timestamp":"2023-09-25T09:04:31.742648Z"}]}`
    expect(k.parse(trade(7)).ticks).toHaveLength(1)
    expect(k.parse(trade(7)).rejects[0]?.reason).toBe('sequence_regression')
  })

  it('keeps the good items of a message and rejects only the bad one', () => {
    const p = new KrakenParser()
    const r = p.parse('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1,"bid_qty":1,"ask":1.1,"ask_qty":1},{"symbol":"BTC/USD","bid":"x","bid_qty":1,"ask":1.1,"ask_qty":1}]}')
    expect(r.ticks).toHaveLength(1)
    expect(r.rejects.map((x) => x.reason)).toEqual(['bad_number'])
  })
})
