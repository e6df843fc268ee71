import { describe, expect, it } from 'vitest'
import type { QuoteTick } from '../../feeds/tick.ts'
import { MarketBoard, Rolling } from './model.ts'

function q (venue: 'binance' | 'kraken', bid: number, ask: number, seq: number): QuoteTick {
  return { v: 1, type: 'quote', venue, symbol: 'BTC-USD', bid, bidSize: 1, ask, askSize: 1, venueSeq: null, seq, venueTime: 0, recvTime: 1000, pubTime: 1000, pubMono: 0 }
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

  it('keeps a rolling window for percentiles', () => {
    const r = new Rolling()
    for (let i = 1; i <= 100; i++) r.add(i)
    expect(r.percentile(50)).toBe(51)
    expect(r.percentile(99)).toBe(100)
  })
})
