/**
 * Parses Binance spot streams: `bookTicker` and `trade`, combined (`{"stream","data"}`) or raw.
 * Sequence rules: `u` (order book update id) and `t` (trade id) increase per symbol.
 */
import { SymbolMap, type Instrument } from '../instruments.ts'
import { EMPTY, isReject, parseObject, quoteOf, rejected, RejectReason, SequenceGuard, tradeOf, type ParseResult, type VenueParser, shown } from './parsed.ts'

export function binanceSubscribeMessages (instruments: readonly Instrument[]): string[] {
  const params = instruments.flatMap((i) => {
    const s = `${i.base}${i.quote}`.toLowerCase()
    return [`${s}@bookTicker`, `${s}@trade`]
  })
  return [JSON.stringify({ method: 'SUBSCRIBE', params, id: 1 })]
}

export class BinanceParser implements VenueParser {
  private readonly symbols: SymbolMap
  // Keyed by instrument object, not by a string built per message.
  private readonly updateIds = new SequenceGuard<Instrument>()
  private readonly tradeIds = new SequenceGuard<Instrument>()

  constructor (instruments?: readonly Instrument[]) {
    this.symbols = new SymbolMap('binance', instruments)
  }

  reset (): void {
    // Binance ids are per symbol on the venue, not per connection: keep them across reconnects.
  }

  parse (text: string): ParseResult {
    const decoded = parseObject(text)
    if (!decoded.ok) return decoded.result
    const message = decoded.message
    if ('result' in message && 'id' in message) return EMPTY // SUBSCRIBE ack
    if ('code' in message && 'msg' in message) return rejected(RejectReason.VenueError, shown(message.msg))
    const data = (typeof message.stream === 'string' && message.data !== null && typeof message.data === 'object')
      ? message.data as Record<string, unknown>
      : message
    if (data.e === 'trade') {
      const item = tradeOf(this.symbols, data.s, data.p, data.q, typeof data.m === 'boolean' ? (data.m ? 'sell' : 'buy') : null, data.t,
        typeof data.T === 'number' ? data.T : null)
      if (isReject(item)) return { ticks: [], rejects: [item] }
      if (typeof data.t !== 'number') return rejected(RejectReason.BadNumber, `t=${JSON.stringify(data.t)}`)
      if (this.tradeIds.regresses(item.instrument, data.t)) return rejected(RejectReason.SequenceRegression, `${shown(data.s)} trade id ${data.t}`)
      return { ticks: [item], rejects: [] }
    }
    if ('u' in data && 'b' in data) {
      const u = data.u
      if (typeof u !== 'number' || !Number.isInteger(u)) return rejected(RejectReason.BadNumber, `u=${JSON.stringify(u)}`)
      const item = quoteOf(
        this.symbols,
        data.s,
        { bid: data.b, bidSize: data.B, ask: data.a, askSize: data.A },
        u,
        null
      )
      if (isReject(item)) return { ticks: [], rejects: [item] }
      if (this.updateIds.regresses(item.instrument, u)) return rejected(RejectReason.SequenceRegression, `${shown(data.s)} update id ${u}`)
      return { ticks: [item], rejects: [] }
    }
    if (typeof data.s !== 'string' && ('b' in data || 'a' in data)) return rejected(RejectReason.MissingField, 's')
    return rejected(RejectReason.UnknownMessage, text.slice(0, 80))
  }
}
