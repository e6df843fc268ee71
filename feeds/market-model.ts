/**
 * The simulated market, deterministic for a seed.
 *
 * - `FairValuePath`: one instrument's fair value, a geometric Brownian motion sampled on a fixed
 *   10 ms grid with its own random stream. Every venue builds its own path from the same seed,
 *   so all venues quote around the same fair value without sharing state or a process.
 *   Volatility bursts (a regime of several times the volatility and message rate) are part of
 *   the path, so they hit all venues at once.
 * - `VenueModel`: one venue's event stream in virtual time: quotes around its own lagging,
 *   noisy view of the fair value (so venues differ, and markets sometimes cross), rounded to
 *   the tick size, with random sizes; and trades at its bid or ask. Inter-arrival times are
 *   exponential at the configured rate. The same seed gives the same events, whatever the
 *   wall clock does.
 */
import { roundTo, type Instrument, type Venue } from './instruments.ts'
import { Random, seedFor } from './random.ts'

const GRID_MS = 10

export interface BurstOptions {
  /** Chance per second that a volatility burst starts. Default 0.02. */
  startsPerSec: number
  /** Mean burst length (s). Default 3. */
  meanSeconds: number
  /** Volatility multiplier during a burst. Default 5. */
  volMultiplier: number
  /** Message-rate multiplier during a burst. Default 3. */
  rateMultiplier: number
}

export const DEFAULT_BURSTS: BurstOptions = { startsPerSec: 0.02, meanSeconds: 3, volMultiplier: 5, rateMultiplier: 3 }

export class FairValuePath {
  private readonly random: Random
  private step = 0
  private value: number
  private burstStepsLeft = 0
  private readonly sigmaPerStep: number

  constructor (seed: number, readonly instrument: Instrument, private readonly bursts: BurstOptions | null) {
    this.random = new Random(seedFor(seed, `fair:${instrument.symbol}`))
    this.value = instrument.startPrice
    this.sigmaPerStep = instrument.volPerSqrtSec * Math.sqrt(GRID_MS / 1000)
  }

  get inBurst (): boolean {
    return this.burstStepsLeft > 0
  }

  /** Fair value at virtual time `tMs` (queries must not go back in time). */
  at (tMs: number): number {
    const target = Math.floor(tMs / GRID_MS)
    while (this.step < target) this.advance()
    return this.value
  }

  private advance (): void {
    this.step++
    const b = this.bursts
    if (b !== null) {
      if (this.burstStepsLeft > 0) this.burstStepsLeft--
      else if (this.random.next() < b.startsPerSec * GRID_MS / 1000) {
        this.burstStepsLeft = Math.max(1, Math.round(this.random.exponential(b.meanSeconds * 1000 / GRID_MS)))
      }
    } else {
      this.random.next() // keep the stream aligned whether bursts are on or off
    }
    const sigma = this.sigmaPerStep * (this.burstStepsLeft > 0 && b !== null ? b.volMultiplier : 1)
    this.value *= Math.exp(-0.5 * sigma * sigma + sigma * this.random.normal())
  }
}

export interface QuoteEvent {
  type: 'quote'
  /** Virtual time of the event (ms since the model started). */
  t: number
  instrument: Instrument
  bid: number
  bidSize: number
  ask: number
  askSize: number
}

export interface TradeEvent {
  type: 'trade'
  t: number
  instrument: Instrument
  price: number
  size: number
  side: 'buy' | 'sell'
}

export type MarketEvent = QuoteEvent | TradeEvent

export interface VenueModelOptions {
  seed: number
  venue: Venue
  instruments: readonly Instrument[]
  /** Messages per second in calm markets, across all instruments. */
  ratePerSec: number
  /**
   * Each instrument's share of the rate, by canonical symbol: relative weights, 1 when not
   * given. `{ 'BTC-USD': 4 }` with four other instruments gives BTC-USD half the messages.
   */
  instrumentWeights?: Readonly<Record<string, number>>
  /** Fraction of events that are trades. Default 0.1. */
  tradeRatio?: number
  /** Volatility bursts; null for a steady market. Default DEFAULT_BURSTS. */
  bursts?: BurstOptions | null
}

/** Per-venue character: how it lags and mis-prices the fair value, and how wide it quotes. */
const VENUE_PROFILE: Record<Venue, {
  lagAlpha: number,
  noiseBps: number,
  biasBps: number,
  spreadBps: number,
  minSpreadTicks: number
}> = {
  binance: { lagAlpha: 0.6, noiseBps: 0.3, biasBps: 0.15, spreadBps: 1.0, minSpreadTicks: 1 },
  coinbase: { lagAlpha: 0.4, noiseBps: 0.4, biasBps: -0.2, spreadBps: 1.5, minSpreadTicks: 1 },
  kraken: { lagAlpha: 0.25, noiseBps: 0.5, biasBps: 0.25, spreadBps: 2.0, minSpreadTicks: 2 }
}

interface InstrumentState {
  path: FairValuePath
  mid: number
  bid: number
  ask: number
}

function cumulativeWeights (
  instruments: readonly Instrument[],
  weights: Readonly<Record<string,
  number>>
): Float64Array | null {
  for (const symbol of Object.keys(weights)) {
    if (!instruments.some((i) => i.symbol === symbol)) throw new RangeError(`weight for ${symbol}, which this venue does not list`)
    const w = weights[symbol] as number
    if (!(Number.isFinite(w) && w > 0)) throw new RangeError(`weight of ${symbol} must be a number > 0, got ${w}`)
  }
  if (Object.keys(weights).length === 0) return null
  const sums = new Float64Array(instruments.length)
  let total = 0
  instruments.forEach((instrument, i) => { total += weights[instrument.symbol] ?? 1; sums[i] = total })
  return sums
}

export class VenueModel {
  private readonly random: Random
  private readonly states: InstrumentState[]
  /** Running sums of the instruments' weights, for a weighted draw; null when all are equal. */
  private readonly cumulativeWeights: Float64Array | null
  private readonly tradeRatio: number
  private readonly meanGapMs: number
  private readonly profile: typeof VENUE_PROFILE[Venue]
  private t = 0

  constructor (private readonly options: VenueModelOptions) {
    if (options.instruments.length === 0) throw new RangeError('a venue needs at least one instrument')
    if (!(options.ratePerSec > 0)) throw new RangeError(`rate must be > 0, got ${options.ratePerSec}`)
    this.random = new Random(seedFor(options.seed, `venue:${options.venue}`))
    const bursts = options.bursts === undefined ? DEFAULT_BURSTS : options.bursts
    this.states = options.instruments.map((instrument) => {
      const path = new FairValuePath(options.seed, instrument, bursts)
      const mid = instrument.startPrice
      return { path, mid, bid: mid, ask: mid }
    })
    this.cumulativeWeights = cumulativeWeights(options.instruments, options.instrumentWeights ?? {})
    this.tradeRatio = options.tradeRatio ?? 0.1
    this.meanGapMs = 1000 / options.ratePerSec
    this.profile = VENUE_PROFILE[options.venue]
  }

  /** Virtual time of the last event (ms). */
  get now (): number {
    return this.t
  }

  /** The next event in virtual time. */
  next (): MarketEvent {
    const state = this.states[this.pickInstrument()] as InstrumentState
    const burst = state.path.inBurst
    const rateMultiplier = burst ? (this.options.bursts ?? DEFAULT_BURSTS).rateMultiplier : 1
    this.t += this.random.exponential(this.meanGapMs / rateMultiplier)
    const instrument = state.path.instrument
    if (this.random.next() < this.tradeRatio && state.bid > 0) return this.trade(state)
    const fair = state.path.at(this.t)
    const p = this.profile
    state.mid += p.lagAlpha * (fair - state.mid)
    const noisy = state.mid * (1 + (p.biasBps + p.noiseBps * this.random.normal()) / 10_000)
    const tick = instrument.tickSize
    const baseTicks = Math.max(p.minSpreadTicks, Math.round(noisy * p.spreadBps / 10_000 / tick))
    const spreadTicks = baseTicks + (this.random.next() < 0.2 ? 1 : 0) + (burst ? baseTicks : 0)
    const bidTicks = Math.max(1, Math.floor(noisy / tick - spreadTicks / 2))
    state.bid = roundTo(bidTicks * tick, instrument.priceDecimals)
    state.ask = roundTo((bidTicks + spreadTicks) * tick, instrument.priceDecimals)
    return {
      type: 'quote',
      t: this.t,
      instrument,
      bid: state.bid,
      bidSize: this.size(instrument, 2),
      ask: state.ask,
      askSize: this.size(instrument, 2)
    }
  }

  private pickInstrument (): number {
    const sums = this.cumulativeWeights
    if (sums === null) return this.random.int(this.states.length)
    const u = this.random.next() * (sums[sums.length - 1] as number)
    let i = 0
    while (i < sums.length - 1 && u >= (sums[i] as number)) i++
    return i
  }

  private trade (state: InstrumentState): TradeEvent {
    const side = this.random.next() < 0.5 ? 'buy' : 'sell'
    const instrument = state.path.instrument
    return { type: 'trade', t: this.t, instrument, price: side === 'buy' ? state.ask : state.bid, size: this.size(instrument, 0.5), side }
  }

  /** A log-normal size worth about `notionalK` thousand in quote currency, in whole lots. */
  private size (instrument: Instrument, notionalK: number): number {
    const notional = notionalK * 1000 * Math.exp(0.8 * this.random.normal())
    const lots = Math.max(1, Math.round(notional / instrument.startPrice / instrument.lotSize))
    return roundTo(lots * instrument.lotSize, instrument.sizeDecimals)
  }
}
