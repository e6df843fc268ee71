import { describe, expect, it } from 'vitest'
import { DEFAULT_INSTRUMENTS, findInstruments } from './instruments.ts'
import { FairValuePath, VenueModel, type MarketEvent, type QuoteEvent } from './market-model.ts'

function take (model: VenueModel, n: number): MarketEvent[] {
  return Array.from({ length: n }, () => model.next())
}

describe('market model', () => {
  it('is deterministic for a seed, and differs across seeds', () => {
    const options = { venue: 'binance' as const, instruments: DEFAULT_INSTRUMENTS, ratePerSec: 1000 }
    const a = take(new VenueModel({ ...options, seed: 7 }), 500)
    const b = take(new VenueModel({ ...options, seed: 7 }), 500)
    const c = take(new VenueModel({ ...options, seed: 8 }), 500)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
  })

  it('gives every venue the same fair value path for a seed', () => {
    const [btc] = findInstruments(['BTC-USD'])
    const one = new FairValuePath(3, btc!, null)
    const two = new FairValuePath(3, btc!, null)
    const sampledOften = [100, 200, 300, 5000].map((t) => one.at(t))
    expect(two.at(5000)).toBe(sampledOften[3])
  })

  it('quotes on the tick grid with bid below ask and positive sizes, and trades at the touch', () => {
    const model = new VenueModel({ seed: 1, venue: 'kraken', instruments: DEFAULT_INSTRUMENTS, ratePerSec: 1000 })
    let trades = 0
    for (const e of take(model, 5000)) {
      const tick = e.instrument.tickSize
      if (e.type === 'quote') {
        expect(e.bid).toBeLessThan(e.ask)
        expect(Math.abs(e.bid / tick - Math.round(e.bid / tick))).toBeLessThan(1e-6)
        expect(e.bidSize).toBeGreaterThan(0)
      } else {
        trades++
        expect(e.price).toBeGreaterThan(0)
      }
    }
    expect(trades).toBeGreaterThan(300)
    expect(trades).toBeLessThan(700)
  })

  it('lets venues disagree enough that markets sometimes cross', () => {
    const instruments = findInstruments(['BTC-USD'])
    const venues = (['binance', 'coinbase', 'kraken'] as const).map((venue) => new VenueModel({ seed: 5, venue, instruments, ratePerSec: 200, tradeRatio: 0 }))
    // Merge the three streams in virtual-time order, as the wall clock does for real venues.
    const pending = venues.map((model) => model.next())
    const latest = new Map<string, QuoteEvent>()
    let crossed = 0
    let compared = 0
    for (let step = 0; step < 9000; step++) {
      let k = 0
      for (let j = 1; j < pending.length; j++) if ((pending[j] as MarketEvent).t < (pending[k] as MarketEvent).t) k = j
      const e = pending[k] as MarketEvent
      pending[k] = (venues[k] as VenueModel).next()
      if (e.type === 'quote') latest.set(String(k), e)
      const quotes = [...latest.values()]
      if (quotes.length < 3) continue
      compared++
      const bestBid = Math.max(...quotes.map((q) => q.bid))
      const bestAsk = Math.min(...quotes.map((q) => q.ask))
      if (bestBid > bestAsk) crossed++
    }
    expect(crossed).toBeGreaterThan(0)
    expect(crossed / compared).toBeLessThan(0.5)
  })

  it('advances virtual time at the configured rate', () => {
    const model = new VenueModel({ seed: 2, venue: 'coinbase', instruments: DEFAULT_INSTRUMENTS, ratePerSec: 1000, bursts: null })
    take(model, 10_000)
    expect(model.now).toBeGreaterThan(9000)
    expect(model.now).toBeLessThan(11_000)
  })

  it('splits a venue\'s rate between instruments by their weights', () => {
    const instruments = findInstruments(['BTC-USD', 'ETH-USD', 'SOL-USD'])
    const model = new VenueModel({ seed: 4, venue: 'binance', instruments, ratePerSec: 1000, bursts: null, instrumentWeights: { 'BTC-USD': 6, 'SOL-USD': 0.5 } })
    const counts = new Map<string, number>()
    const n = 30_000
    for (const e of take(model, n)) counts.set(e.instrument.symbol, (counts.get(e.instrument.symbol) ?? 0) + 1)
    // Shares 6 : 1 : 0.5 of 7.5, within a few standard deviations of sampling noise.
    expect((counts.get('BTC-USD') ?? 0) / n).toBeCloseTo(6 / 7.5, 1)
    expect((counts.get('ETH-USD') ?? 0) / n).toBeCloseTo(1 / 7.5, 1)
    expect((counts.get('SOL-USD') ?? 0) / n).toBeCloseTo(0.5 / 7.5, 1)
    expect(model.now).toBeGreaterThan(27_000) // the venue's total rate is unchanged
    expect(model.now).toBeLessThan(33_000)
  })

  it('refuses a weight for an instrument it does not list, or a weight that is not > 0', () => {
    const instruments = findInstruments(['BTC-USD'])
    expect(() => new VenueModel({ seed: 1, venue: 'kraken', instruments, ratePerSec: 10, instrumentWeights: { 'ETH-USD': 2 } })).toThrow(/ETH-USD, which this venue does not list/)
    expect(() => new VenueModel({ seed: 1, venue: 'kraken', instruments, ratePerSec: 10, instrumentWeights: { 'BTC-USD': 0 } })).toThrow(/must be a number > 0/)
  })
})
