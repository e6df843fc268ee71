/**
 * The dashboard's state, pure and DOM-free: the board of instruments x venues (with the
 * direction of the last change, for flashing), consolidated BBOs, arbitrage alerts, and this
 * browser's own measurements. The app feeds it messages and renders what changed once per
 * animation frame.
 */
import type { BboTick, QuoteTick, TradeTick } from '../../feeds/tick.ts'
import type { ArbitrageSignal } from '../../traders/arbitrage.ts'
import { RecentMap } from '../../lib/recent-map.ts'

export type Direction = 'up' | 'down' | null

export interface Cell {
  quote: QuoteTick
  bidDir: Direction
  askDir: Direction
  changedAt: number
}

/** A crossed-market signal as the arbitrage watcher publishes it. */
export type ArbAlert = ArbitrageSignal

const WINDOW = 2000

/** Rolling sample of recent values for percentiles (the last WINDOW observations). */
export class Rolling {
  private readonly values: number[] = []
  private next = 0

  add (v: number): void {
    if (this.values.length < WINDOW) this.values.push(v)
    else { this.values[this.next] = v; this.next = (this.next + 1) % WINDOW }
  }

  percentile (p: number): number {
    if (this.values.length === 0) return 0
    const sorted = [...this.values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] as number
  }

  get size (): number {
    return this.values.length
  }
}

/** Instruments on the board: a screen's worth. Past it, the one updated longest ago leaves. */
export const MAX_BOARD_INSTRUMENTS = 200

export class MarketBoard {
  readonly cells = new Map<string, Cell>()
  readonly bbo = new Map<string, BboTick>()
  readonly alerts: ArbAlert[] = []
  /**
   * The instruments shown, at most `maxInstruments`: a publisher of ever new instruments would
   * otherwise add a row each (and a sort of every row) until the page stalls.
   */
  readonly symbols: RecentMap<string, true>
  /** Instruments dropped from the board since the last render took them (their rows go). */
  readonly dropped: string[] = []
  readonly venues = new Set<string>()
  /** Keys (`symbol|venue`, `bbo|symbol`) changed since the last render. */
  readonly dirty = new Set<string>()
  /** This browser's own view of what it receives. */
  readonly latencyMs = new Rolling()
  received = 0
  skipped = 0
  decodeErrors = 0

  constructor (maxInstruments = MAX_BOARD_INSTRUMENTS) {
    this.symbols = new RecentMap(maxInstruments, (symbol) => {
      for (const venue of this.venues) this.cells.delete(`${symbol}|${venue}`)
      this.bbo.delete(symbol)
      this.dropped.push(symbol)
    })
  }

  onQuote (q: QuoteTick, nowMs: number, skipped: number): void {
    this.received++
    this.skipped += skipped
    this.latencyMs.add(Math.max(0, nowMs - q.pubTime))
    const key = `${q.symbol}|${q.venue}`
    const previous = this.cells.get(key)
    if (previous !== undefined && q.seq < previous.quote.seq) return // never go back
    this.symbols.set(q.symbol, true)
    this.venues.add(q.venue)
    this.cells.set(key, {
      quote: q,
      bidDir: previous === undefined || q.bid === previous.quote.bid ? null : q.bid > previous.quote.bid ? 'up' : 'down',
      askDir: previous === undefined || q.ask === previous.quote.ask ? null : q.ask > previous.quote.ask ? 'up' : 'down',
      changedAt: nowMs
    })
    this.dirty.add(key)
  }

  onBbo (b: BboTick): void {
    const previous = this.bbo.get(b.symbol)
    if (previous !== undefined && b.seq < previous.seq) return
    this.symbols.set(b.symbol, true)
    this.bbo.set(b.symbol, b)
    this.dirty.add(`bbo|${b.symbol}`)
  }

  onTrade (_t: TradeTick): void {
    this.received++
  }

  onAlert (a: ArbAlert): void {
    this.alerts.unshift(a)
    if (this.alerts.length > 12) this.alerts.length = 12
    this.dirty.add('alerts')
  }

  /** Age of the values held now (ms): what the screen shows is never older than this. */
  staleness (nowMs: number): { p50: number, max: number } {
    const ages = [...this.cells.values()].map((c) => nowMs - c.quote.recvTime).sort((a, b) => a - b)
    if (ages.length === 0) return { p50: 0, max: 0 }
    return { p50: ages[Math.floor(ages.length / 2)] as number, max: ages[ages.length - 1] as number }
  }

  sortedSymbols (): string[] {
    return [...this.symbols.keys()].sort()
  }

  sortedVenues (): string[] {
    return [...this.venues].sort()
  }

  takeDirty (): string[] {
    const out = [...this.dirty]
    this.dirty.clear()
    return out
  }
}
