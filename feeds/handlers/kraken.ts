/**
 * Parses Kraken WebSocket v2 `ticker`, `trade`, `heartbeat`, `status` and method replies.
 * Sequence rules: `trade_id` increases per symbol; a ticker's `timestamp` never goes back.
 */
import { SymbolMap, type Instrument } from '../instruments.ts'
import { collect, EMPTY, isReject, parseObject, parseRfc3339, quoteOf, rejected, RejectReason, SequenceGuard, tradeOf, type Parsed, type ParseResult, type Reject, type VenueParser, shown } from './parsed.ts'

export function krakenSubscribeMessages (instruments: readonly Instrument[]): string[] {
  const symbol = instruments.map((i) => `${i.base}/${i.quote}`)
  return [
    JSON.stringify({ method: 'subscribe', params: { channel: 'ticker', symbol }, req_id: 1 }),
    JSON.stringify({ method: 'subscribe', params: { channel: 'trade', symbol, snapshot: false }, req_id: 2 })
  ]
}

export class KrakenParser implements VenueParser {
  private readonly symbols: SymbolMap
  private readonly sequences = new SequenceGuard()
  private readonly lastTickerTime = new Map<string, number>()

  constructor (instruments?: readonly Instrument[]) {
    this.symbols = new SymbolMap('kraken', instruments)
  }

  reset (): void {
    // Trade ids and timestamps are venue-wide: keep them across reconnects.
  }

  parse (text: string): ParseResult {
    const decoded = parseObject(text)
    if (!decoded.ok) return decoded.result
    const message = decoded.message
    if ('method' in message) {
      return message.success === false ? rejected(RejectReason.VenueError, shown(message.error)) : EMPTY
    }
    const channel = message.channel
    if (channel === 'heartbeat' || channel === 'status') return EMPTY
    const data = message.data
    if (channel !== 'ticker' && channel !== 'trade') return rejected(RejectReason.UnknownMessage, `channel ${shown(channel)}`)
    if (!Array.isArray(data)) return rejected(RejectReason.MissingField, 'data')
    const items: Array<Parsed | Reject> = []
    for (const d of data as Array<Record<string, unknown>>) {
      const time = parseRfc3339(d?.timestamp)
      if (channel === 'ticker') {
        const item = quoteOf(
          this.symbols,
          d?.symbol,
          { bid: d?.bid, bidSize: d?.bid_qty, ask: d?.ask, askSize: d?.ask_qty },
          null,
          time
        )
        if (!isReject(item) && time !== null) {
          const previous = this.lastTickerTime.get(item.instrument.symbol)
          if (previous !== undefined && time < previous) { items.push({ reason: RejectReason.SequenceRegression, detail: `${shown(d?.symbol)} ticker time went back` }); continue }
          this.lastTickerTime.set(item.instrument.symbol, time)
        }
        items.push(item)
      } else {
        const side = d?.side === 'buy' || d?.side === 'sell' ? d.side : null
        const item = tradeOf(this.symbols, d?.symbol, d?.price, d?.qty, side, d?.trade_id, time)
        if (!isReject(item)) {
          if (typeof d?.trade_id !== 'number') { items.push({ reason: RejectReason.BadNumber, detail: `trade_id=${JSON.stringify(d?.trade_id)}` }); continue }
          if (this.sequences.regresses(`t:${item.instrument.symbol}`, d.trade_id)) { items.push({ reason: RejectReason.SequenceRegression, detail: `${shown(d?.symbol)} trade id ${d.trade_id}` }); continue }
        }
        items.push(item)
      }
    }
    return collect(items)
  }
}
