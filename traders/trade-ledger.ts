/**
 * What a subscriber knows of the trades it received, pure (times are passed in): which trades it
 * has (by venue, instrument and venue trade id), where the venues' trade ids have holes, and
 * how many of those holes the broker's trade history filled (history-fill.ts). Simulated
 * venues number each instrument's trades 1, 2, 3, …, so a hole in the ids is a trade missed.
 *
 * Bounded: the trades it remembers, to tell a duplicate from a new one, are those of the last
 * `rememberMs` and at most `maxRemembered` of them.
 */
import type { TradeTick } from '../feeds/tick.ts'

export interface TradeLedgerOptions {
  /** How long a received trade is remembered for duplicate detection (the history's age, 10 minutes, by default). */
  rememberMs?: number
  /** Trades remembered at most. */
  maxRemembered?: number
}

export type TradeOrigin = 'live' | 'history'

export interface TradeLedgerReport {
  /** Trades received live, and filled from the history (each once). */
  live: number
  filled: number
  /** Live copies of a trade already had (each is processed once; a broker delivered it twice). */
  duplicates: number
  /** Trades the history returned that the subscriber already had (its fill starts a little early). */
  alreadyHad: number
  /** Trade ids still missing between the first and the last one seen of each instrument. */
  missing: number
}

/** Holes kept per instrument; a jump in ids larger than this starts the instrument afresh. */
const MAX_HOLES = 100_000

interface InstrumentTrades {
  /** Highest trade id seen. */
  last: number
  /** Ids below `last` not seen (yet). */
  readonly holes: Set<number>
}

export class TradeLedger {
  live = 0
  filled = 0
  duplicates = 0
  alreadyHad = 0
  /** When the last trade arrived live (ms since the epoch); 0 before the first. */
  lastLiveAtMs = 0
  private readonly remembered = new Map<string, number>()
  private readonly instruments = new Map<string, InstrumentTrades>()
  private readonly rememberMs: number
  private readonly maxRemembered: number

  constructor (options: TradeLedgerOptions = {}) {
    this.rememberMs = options.rememberMs ?? 600_000
    this.maxRemembered = options.maxRemembered ?? 1_000_000
  }

  /** Records a trade; false when it was a duplicate. */
  note (trade: Pick<TradeTick, 'venue' | 'symbol' | 'tradeId'>, origin: TradeOrigin, nowMs: number): boolean {
    const key = `${trade.venue} ${trade.symbol} ${trade.tradeId}`
    this.forget(nowMs)
    if (this.remembered.has(key)) {
      if (origin === 'live') this.duplicates++
      else this.alreadyHad++
      return false
    }
    const id = Number(trade.tradeId)
    const instrumentKey = `${trade.venue} ${trade.symbol}`
    const inst = this.instruments.get(instrumentKey)
    if (Number.isSafeInteger(id) && id > 0) {
      if (inst === undefined || id - inst.last > MAX_HOLES) {
        // The first of its instrument, or a jump no outage explains (the venue numbers afresh).
        this.instruments.set(instrumentKey, { last: id, holes: new Set() })
      } else if (id > inst.last) {
        for (let missing = inst.last + 1; missing < id; missing++) inst.holes.add(missing)
        inst.last = id
        for (const oldest of inst.holes) {
          if (inst.holes.size <= MAX_HOLES) break
          inst.holes.delete(oldest)
        }
      } else {
        inst.holes.delete(id) // an id below the first one seen was never a hole here
      }
    }
    this.remembered.set(key, nowMs)
    if (origin === 'live') {
      this.live++
      this.lastLiveAtMs = nowMs
    } else {
      this.filled++
    }
    return true
  }

  /** Trade ids missing now, over all instruments. */
  get missing (): number {
    let n = 0
    for (const inst of this.instruments.values()) n += inst.holes.size
    return n
  }

  report (): TradeLedgerReport {
    const { live, filled, duplicates, alreadyHad } = this
    return { live, filled, duplicates, alreadyHad, missing: this.missing }
  }

  private forget (nowMs: number): void {
    for (const [key, at] of this.remembered) {
      if (nowMs - at <= this.rememberMs && this.remembered.size < this.maxRemembered) break
      this.remembered.delete(key)
    }
  }
}
