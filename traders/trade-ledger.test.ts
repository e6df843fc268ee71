import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TradeLedger } from './trade-ledger.ts'

const trade = (tradeId: number, symbol = 'BTC-USD', venue = 'binance' as const): { venue: 'binance', symbol: string, tradeId: string } =>
  ({ venue, symbol, tradeId: String(tradeId) })

describe('TradeLedger', () => {
  it('finds the holes in each instrument\'s trade ids, and counts what the history fills', () => {
    const l = new TradeLedger()
    for (const id of [1, 2, 5, 6]) l.note(trade(id), 'live', 0)
    l.note(trade(10, 'ETH-USD'), 'live', 0)
    l.note(trade(12, 'ETH-USD'), 'live', 0)
    expect(l.missing).toBe(3) // BTC 3, 4; ETH 11
    expect(l.note(trade(3), 'history', 1)).toBe(true)
    expect(l.note(trade(5), 'history', 1)).toBe(false)
    expect(l.report()).toEqual({ live: 6, filled: 1, duplicates: 0, alreadyHad: 1, missing: 2 })
    expect(l.note(trade(6), 'live', 1)).toBe(false)
    expect(l.duplicates).toBe(1)
    expect(l.lastLiveAtMs).toBe(0)
  })

  it('takes an id below the first one seen as no hole, and a huge jump as a venue numbering afresh', () => {
    const l = new TradeLedger()
    l.note(trade(100), 'live', 0)
    l.note(trade(50), 'history', 0)
    l.note(trade(1_000_000), 'live', 0)
    expect(l.missing).toBe(0)
  })

  it('forgets trades past its memory, so a very late copy counts as new', () => {
    const l = new TradeLedger({ rememberMs: 1000 })
    l.note(trade(1), 'live', 0)
    expect(l.note(trade(1), 'live', 500)).toBe(false)
    expect(l.note(trade(1), 'live', 2000)).toBe(true)
  })

  it('counts each trade once, whatever the order and the copies (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean())), (events) => {
      const l = new TradeLedger()
      for (const [id, live] of events) l.note(trade(id), live ? 'live' : 'history', 0)
      const distinct = new Set(events.map(([id]) => id))
      expect(l.live + l.filled).toBe(distinct.size)
      expect(l.duplicates + l.alreadyHad).toBe(events.length - distinct.size)
      if (events.length > 0) {
        // Holes: ids between the first one noted and the highest that never came.
        const first = (events[0] as [number, boolean])[0]
        const max = Math.max(...events.map(([id]) => id))
        let holes = 0
        for (let id = first + 1; id < max; id++) if (!distinct.has(id)) holes++
        expect(l.missing).toBe(holes)
      }
    }))
  })
})
