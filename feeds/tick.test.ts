import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeTick, encodeTick, parseTick, SequenceStamper, type QuoteTick, type TradeTick } from './tick.ts'

const num = fc.double({ min: 1e-8, max: 1e9, noNaN: true, noDefaultInfinity: true })
const times = { venueTime: num, recvTime: num, pubTime: num, pubMono: fc.nat() }
const quote: fc.Arbitrary<QuoteTick> = fc.record({
  v: fc.constant(1 as const), type: fc.constant('quote' as const), venue: fc.constantFrom('binance' as const, 'coinbase' as const, 'kraken' as const),
  symbol: fc.constantFrom('BTC-USD', 'DOGE-USDT'), bid: num, bidSize: num, ask: num, askSize: num,
  venueSeq: fc.option(fc.nat(), { nil: null }), seq: fc.nat(), ...times
}).chain((q) => fc.boolean().map((rep) => (rep ? { ...q, republish: true as const } : q)))
const trade: fc.Arbitrary<TradeTick> = fc.record({
  v: fc.constant(1 as const), type: fc.constant('trade' as const), venue: fc.constantFrom('binance' as const, 'kraken' as const),
  symbol: fc.constantFrom('ETH-USD'), price: num, size: num, side: fc.constantFrom('buy' as const, 'sell' as const),
  tradeId: fc.string(), seq: fc.nat(), ...times
})

describe('canonical tick', () => {
  it('encodes exactly as JSON.stringify does, for quotes and trades', () => {
    fc.assert(fc.property(fc.oneof(quote, trade), (t) => {
      expect(encodeTick(t)).toBe(JSON.stringify(t))
      expect(decodeTick(JSON.parse(encodeTick(t)))).toEqual({ ok: true, tick: t })
    }), { numRuns: 500 })
  })

  it('rejects what is not a tick, with a reason', () => {
    expect(parseTick(new TextEncoder().encode('nope'))).toEqual({ ok: false, reason: 'not JSON' })
    expect(decodeTick({ v: 2 })).toEqual({ ok: false, reason: 'unsupported schema version 2' })
    expect(decodeTick({ v: 1, type: 'book' })).toEqual({ ok: false, reason: 'unknown type "book"' })
    expect(decodeTick({ v: 1, type: 'quote', venue: 'x', symbol: 'y', bid: '1' })).toEqual({ ok: false, reason: 'field bid is not a number' })
  })

  it('rejects a tick whose symbol, venue or side is not one a feed handler writes', () => {
    const times = { seq: 1, venueTime: 1, recvTime: 1, pubTime: 1, pubMono: 1 }
    const q = (venue: string, symbol: string): unknown => ({ v: 1, type: 'quote', venue, symbol, bid: 1, bidSize: 1, ask: 2, askSize: 1, ...times })
    expect(decodeTick(q('binance', 'BTC-USD')).ok).toBe(true)
    expect(decodeTick(q('binance', '<img src=x onerror=alert(1)>')))
      .toEqual({ ok: false, reason: 'symbol "<img src=x onerror=alert(1)>" is not BASE-QUOTE' })
    expect(decodeTick(q('binance', 'BTC USD')).ok).toBe(false) // a space: an illegal subject token
    expect(decodeTick(q('binance', 'btc-usd')).ok).toBe(false)
    expect(decodeTick(q('binance', 'BTC.USD')).ok).toBe(false) // a dot: two subject tokens
    expect(decodeTick(q('<b>', 'BTC-USD'))).toEqual({ ok: false, reason: 'unknown venue "<b>"' })
    const trade = { v: 1, type: 'trade', venue: 'kraken', symbol: 'ETH-USD', price: 1, size: 1, tradeId: '1', ...times }
    expect(decodeTick({ ...trade, side: 'sell' }).ok).toBe(true)
    expect(decodeTick({ ...trade, side: '<i>' })).toEqual({ ok: false, reason: 'side "<i>" is not buy or sell' })
  })

  it('stamps a seq that grows per subject even when the clock stands still', () => {
    const s = new SequenceStamper()
    expect(s.next('a', 1)).toBe(1000)
    expect(s.next('a', 1)).toBe(1001)
    expect(s.next('b', 1)).toBe(1000)
    expect(s.next('a', 2)).toBe(2000)
  })

  it('remembers at most its number of subjects: one forgotten restarts at its publish time', () => {
    const s = new SequenceStamper(1)
    expect(s.next('a', 1)).toBe(1000)
    expect(s.next('a', 1)).toBe(1001)
    expect(s.next('b', 1)).toBe(1000) // a forgotten
    expect(s.next('a', 5)).toBe(5000)
  })
})
