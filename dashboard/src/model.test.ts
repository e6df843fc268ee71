import { describe, expect, it } from 'vitest'
import type { QuoteTick } from '../../feeds/tick.ts'
import { MarketBoard, Rolling } from './model.ts'

function q (venue: 'binance' | 'kraken', bid: number, ask: number, seq: number, symbol = 'BTC-USD'): QuoteTick {
  return { v: 1, type: 'quote', venue, symbol, bid, bidSize: 1, ask, askSize: 1, venueSeq: null, seq, venueTime: 0, recvTime: 1000, pubTime: 1000, pubMono: 0 }
}

describe('dashboard model', () => {
  it('fills the board and remembers which way each side moved', () => {
    const b = new MarketBoard()
    b.onQuote(q('binance', 100, 101, 1), 1010, 0)
    b.onQuote(q('binance', 101, 100.5, 2), 1020, 3)
    const cell = b.cells.get('BTC-USD|binance')
    expect(cell).toMatchObject({ bidDir: 'up', askDir: 'down' })
    expect(b.skipped).toBe(3)
    expect(b.takeDirty()).toEqual(['BTC-USD|binance'])
    expect(b.takeDirty()).toEqual([])
  })

  it('never replaces a value with an older one', () => {
    const b = new MarketBoard()
    b.onQuote(q('kraken', 100, 101, 5), 0, 0)
    b.onQuote(q('kraken', 90, 91, 4), 0, 0)
    expect(b.cells.get('BTC-USD|kraken')?.quote.bid).toBe(100)
  })

  it('measures the age of what it shows', () => {
    const b = new MarketBoard()
    b.onQuote(q('kraken', 100, 101, 5), 0, 0)
    expect(b.staleness(1250)).toEqual({ p50: 250, max: 250 })
  })

  it('shows at most its number of instruments: the one updated longest ago leaves, its cells and BBO with it', () => {
    const b = new MarketBoard(2)
    b.onQuote(q('binance', 1, 2, 1, 'A-USD'), 0, 0)
    b.onBbo({ v: 1, type: 'bbo', symbol: 'A-USD', bid: 1, bidVenue: 'binance', bidSize: 1, ask: 2, askVenue: 'binance', askSize: 1, venues: 1, crossed: false, seq: 1, pubTime: 0, pubMono: 0 })
    b.onQuote(q('kraken', 1, 2, 1, 'B-USD'), 0, 0)
    b.onQuote(q('binance', 1, 2, 2, 'A-USD'), 0, 0) // A is now the newer
    b.onQuote(q('binance', 1, 2, 1, 'C-USD'), 0, 0)
    expect(b.sortedSymbols()).toEqual(['A-USD', 'C-USD'])
    expect(b.dropped).toEqual(['B-USD'])
    expect([...b.cells.keys()].sort()).toEqual(['A-USD|binance', 'C-USD|binance'])
    b.onQuote(q('kraken', 1, 2, 1, 'D-USD'), 0, 0)
    expect(b.dropped).toEqual(['B-USD', 'A-USD'])
    expect(b.bbo.size).toBe(0)
    expect(b.symbols.evicted).toBe(2)
  })

  it('keeps a rolling window for percentiles', () => {
    const r = new Rolling()
    for (let i = 1; i <= 100; i++) r.add(i)
    expect(r.percentile(50)).toBe(51)
    expect(r.percentile(99)).toBe(100)
  })
})
