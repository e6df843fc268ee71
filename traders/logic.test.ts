import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { QuoteTick } from '../feeds/tick.ts'
import { AnomalyDetector } from './anomaly.ts'
import { ArbitrageWatcher, parseArbitrageSignal } from './arbitrage.ts'
import { Consolidator } from './consolidator.ts'
import { BotMeasurements } from './measurements.ts'
import { GroupStatsBoard, MAX_STATS_GROUPS, mergeReports } from './stats.ts'

let seq = 0
function quote (venue: 'binance' | 'coinbase' | 'kraken', bid: number, ask: number, extra: Partial<QuoteTick> = {}): QuoteTick {
  seq++
  return { v: 1, type: 'quote', venue, symbol: 'BTC-USD', bid, bidSize: 1, ask, askSize: 2, venueSeq: null, seq, venueTime: 0, recvTime: 1000, pubTime: 0, pubMono: 0, ...extra }
}

describe('consolidator', () => {
  it('takes the best bid and the best ask across venues, with their venues', () => {
    const c = new Consolidator()
    c.update(quote('binance', 100, 101))
    c.update(quote('coinbase', 100.5, 102))
    const bbo = c.update(quote('kraken', 99, 100.8))
    expect(bbo).toMatchObject({ bid: 100.5, bidVenue: 'coinbase', ask: 100.8, askVenue: 'kraken', crossed: false, venues: 3 })
  })

  it('publishes only when the consolidated sides change', () => {
    const c = new Consolidator()
    expect(c.update(quote('binance', 100, 101))).not.toBeNull()
    expect(c.update(quote('coinbase', 99, 102))).not.toBeNull() // venue count changed
    expect(c.update(quote('coinbase', 98, 103))).toBeNull() // still binance on both sides
  })

  it('replaces a venue quote rather than accumulating it, and forgets a silent venue', () => {
    const c = new Consolidator()
    c.update(quote('binance', 100, 101))
    c.update(quote('binance', 90, 91))
    expect(c.best('BTC-USD')).toMatchObject({ bid: 90, ask: 91, venues: 1 })
    c.update(quote('kraken', 95, 96))
    c.removeVenue('kraken')
    expect(c.best('BTC-USD')).toMatchObject({ bid: 90, venues: 1 })
  })

  it('matches a brute-force best over any sequence of quotes, whatever their order', () => {
    const q = fc.record({ venue: fc.constantFrom('binance' as const, 'coinbase' as const, 'kraken' as const), bid: fc.integer({ min: 1, max: 50 }), spread: fc.integer({ min: 0, max: 5 }) })
    fc.assert(fc.property(fc.array(q, { minLength: 1, maxLength: 40 }), (quotes) => {
      const c = new Consolidator()
      const latest = new Map<string, { bid: number, ask: number }>()
      for (const x of quotes) {
        c.update(quote(x.venue, x.bid, x.bid + x.spread))
        latest.set(x.venue, { bid: x.bid, ask: x.bid + x.spread })
      }
      const best = c.best('BTC-USD')
      expect(best?.bid).toBe(Math.max(...[...latest.values()].map((v) => v.bid)))
      expect(best?.ask).toBe(Math.min(...[...latest.values()].map((v) => v.ask)))
      expect(best?.crossed).toBe((best?.bid ?? 0) > (best?.ask ?? 0))
    }))
  })
})

describe('arbitrage watcher', () => {
  it('signals when a crossing opens, stays quiet while it holds, and signals when it closes', () => {
    const w = new ArbitrageWatcher(0, () => 42)
    expect(w.update(quote('binance', 100, 101))).toBeNull()
    const open = w.update(quote('kraken', 102, 103))
    expect(open).toMatchObject({ state: 'open', buyVenue: 'binance', buyPrice: 101, sellVenue: 'kraken', sellPrice: 102, size: 1 })
    expect(open?.edgeBps).toBeCloseTo(99.0099, 3)
    expect(w.update(quote('kraken', 102, 103.5))).toBeNull() // same pair, same edge
    expect(w.update(quote('kraken', 100.5, 103))).toMatchObject({ state: 'closed', buyVenue: 'binance' })
    expect(w.openCount).toBe(0)
  })

  it('ignores crossings below the minimum edge', () => {
    const w = new ArbitrageWatcher(200)
    w.update(quote('binance', 100, 101))
    expect(w.update(quote('kraken', 102, 103))).toBeNull()
  })
})

describe('anomaly detector', () => {
  it('reports a venue gone silent once, and its return', () => {
    let now = 0
    const d = new AnomalyDetector({ silentMs: 1000, latencySpikeUs: 50_000, spikeReportIntervalMs: 5000 }, () => now)
    d.observe('kraken', 100)
    now = 500
    expect(d.check()).toEqual([])
    now = 1600
    expect(d.check().map((a) => a.kind)).toEqual(['venue_silent'])
    expect(d.check()).toEqual([])
    expect(d.observe('kraken', 100)?.kind).toBe('venue_back')
  })

  it('reports latency spikes at most once per interval per venue', () => {
    let now = 0
    const d = new AnomalyDetector({ silentMs: 1000, latencySpikeUs: 50_000, spikeReportIntervalMs: 5000 }, () => now)
    expect(d.observe('binance', 60_000)?.kind).toBe('latency_spike')
    now = 100
    expect(d.observe('binance', 70_000)).toBeNull()
    now = 5200
    expect(d.observe('binance', 70_000)?.kind).toBe('latency_spike')
  })
})

describe('bot measurements', () => {
  it('records latency, skipped updates, venue gaps and order violations', () => {
    const m = new BotMeasurements('b')
    m.record('quote.binance.BTC-USD', quote('binance', 1, 2, { seq: 10, venueSeq: 5, pubMono: 1000 }), 1500, 0)
    m.record('quote.binance.BTC-USD', quote('binance', 1, 2, { seq: 11, venueSeq: 9, pubMono: 2000 }), 2100, 3)
    m.record('quote.binance.BTC-USD', quote('binance', 1, 2, { seq: 11, venueSeq: 9, pubMono: 3000, republish: true }), 3050, 0)
    m.record('quote.binance.BTC-USD', quote('binance', 1, 2, { seq: 9, venueSeq: 10, pubMono: 3000 }), 3050, 0)
    const r = m.report()
    expect(r).toMatchObject({ received: 4, skipped: 3, venueSeqGaps: 3, orderViolations: 1, republished: 1 })
    expect(r.latencyUs.max).toBeGreaterThanOrEqual(499)
    expect(r.latencyUs.max).toBeLessThan(510)
  })

  it('counts venue-sequence gaps only where the venue numbers each instrument on its own', () => {
    const m = new BotMeasurements('b')
    // Coinbase's sequence_num is shared by every product: a jump on one subject is normal.
    m.record('quote.coinbase.BTC-USD', quote('coinbase', 1, 2, { seq: 10, venueSeq: 5 }), 1500, 0)
    m.record('quote.coinbase.BTC-USD', quote('coinbase', 1, 2, { seq: 11, venueSeq: 40 }), 1600, 0)
    expect(m.report().venueSeqGaps).toBe(0)
  })

  it('samples the age of the values it holds', () => {
    const m = new BotMeasurements('b')
    m.record('quote.x', quote('binance', 1, 2, { recvTime: 1000 }), 0, 0)
    m.sampleStaleness(1250)
    expect(m.report().stalenessMs.max).toBe(250)
  })
})

describe('messages a consumer keeps are checked first', () => {
  const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))

  it('takes the arbitrage watcher\'s signals, and refuses others with the field at fault', () => {
    const w = new ArbitrageWatcher(0, () => 42)
    w.update(quote('binance', 100, 101))
    const open = w.update(quote('kraken', 102, 103))
    expect(parseArbitrageSignal(bytes(open))).toEqual({ ok: true, signal: open })
    expect(parseArbitrageSignal(bytes({ ...open, edgeBps: undefined }))).toEqual({ ok: false, reason: 'field edgeBps is not a number' })
    expect(parseArbitrageSignal(bytes({ ...open, buyPrice: 'NaN' }))).toEqual({ ok: false, reason: 'field buyPrice is not a number' })
    expect(parseArbitrageSignal(bytes('null'))).toEqual({ ok: false, reason: 'not an object' })
    expect(parseArbitrageSignal(bytes('{'))).toEqual({ ok: false, reason: 'not JSON' })
  })

  it('keeps each group\'s newest stats, and refuses what is not stats, another subject\'s group, and groups past the limit', () => {
    const board = new GroupStatsBoard()
    const fast = mergeReports('fast', [new BotMeasurements('b').report()])
    expect(board.note('stats.traders.fast', bytes(fast))).toBeNull()
    expect(board.groups.get('fast')).toEqual(fast)
    expect(board.note('stats.traders.fast', bytes({}))).toBe('field group is not a string')
    expect(board.note('stats.traders.fast', bytes({ ...fast, latencyUs: {} }))).toBe('field latencyUs.p50 is not a number')
    expect(board.note('stats.traders.slow', bytes(fast))).toBe('group "fast" is not the subject\'s')
    for (let i = 1; i < MAX_STATS_GROUPS; i++) expect(board.note(`stats.traders.g${i}`, bytes({ ...fast, group: `g${i}` }))).toBeNull()
    expect(board.note('stats.traders.one-more', bytes({ ...fast, group: 'one-more' }))).toBe(`more than ${MAX_STATS_GROUPS} groups`)
    expect(board.note('stats.traders.fast', bytes({ ...fast, received: 7 }))).toBeNull()
    expect(board.groups.size).toBe(MAX_STATS_GROUPS)
    expect(board.groups.get('fast')?.received).toBe(7)
  })
})

describe('state kept per instrument is bounded', () => {
  it('the consolidator keeps the books of the instruments quoted last, and drops the one quoted longest ago', () => {
    const c = new Consolidator(2)
    c.update(quote('binance', 100, 101, { symbol: 'A-USD' }))
    c.update(quote('binance', 100, 101, { symbol: 'B-USD' }))
    c.update(quote('kraken', 100, 101, { symbol: 'A-USD' })) // A quoted again: B is now the oldest
    c.update(quote('binance', 100, 101, { symbol: 'C-USD' }))
    expect(c.best('B-USD')).toBeNull()
    expect(c.best('A-USD')).toMatchObject({ venues: 2 })
    expect(c.instrumentsDropped).toBe(1)
  })

  it('the arbitrage watcher forgets a dropped instrument\'s crossing with its book', () => {
    const w = new ArbitrageWatcher(0, () => 42, 1)
    w.update(quote('binance', 100, 101, { symbol: 'A-USD' }))
    expect(w.update(quote('kraken', 102, 103, { symbol: 'A-USD' }))).toMatchObject({ state: 'open' })
    expect(w.openCount).toBe(1)
    w.update(quote('binance', 100, 101, { symbol: 'B-USD' }))
    expect(w.openCount).toBe(0)
  })

  it('a bot holds at most its number of subjects, and samples the staleness of those', () => {
    const m = new BotMeasurements('b', 2)
    for (const s of ['A', 'B', 'C']) m.record(`quote.binance.${s}-USD`, quote('binance', 1, 2, { symbol: `${s}-USD`, recvTime: 1000 }), 0, 0)
    expect([...m.held.keys()]).toEqual(['quote.binance.B-USD', 'quote.binance.C-USD'])
    m.sampleStaleness(1100)
    expect(m.report().stalenessMs.count).toBe(2)
  })
})
