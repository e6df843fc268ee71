/**
 * Parses Coinbase Advanced Trade `ticker`, `market_trades`, `heartbeats` and `subscriptions`.
 * Sequence rule: `sequence_num` increases per connection (reset on reconnect).
 */
import { SymbolMap, type Instrument } from '../instruments.ts'
import { collect, EMPTY, parseObject, parseRfc3339, quoteOf, rejected, RejectReason, SequenceGuard, tradeOf, type Parsed, type ParseResult, type Reject, type VenueParser, shown } from './parsed.ts'

export function coinbaseSubscribeMessages (instruments: readonly Instrument[]): string[] {
  const product_ids = instruments.map((i) => `${i.base}-${i.quote}`)
  return [
    JSON.stringify({ type: 'subscribe', product_ids, channel: 'ticker' }),
    JSON.stringify({ type: 'subscribe', product_ids, channel: 'market_trades' }),
    JSON.stringify({ type: 'subscribe', product_ids: [], channel: 'heartbeats' })
  ]
}

export class CoinbaseParser implements VenueParser {
  private readonly symbols: SymbolMap
  private readonly sequences = new SequenceGuard()

  constructor (instruments?: readonly Instrument[]) {
    this.symbols = new SymbolMap('coinbase', instruments)
  }

  reset (): void {
    this.sequences.reset()
  }

  parse (text: string): ParseResult {
    const decoded = parseObject(text)
    if (!decoded.ok) return decoded.result
    const message = decoded.message
    if (message.type === 'error') return rejected(RejectReason.VenueError, shown(message.message))
    const channel = message.channel
    if (typeof channel !== 'string') return rejected(RejectReason.MissingField, 'channel')
    const seq = message.sequence_num
    if (typeof seq !== 'number') return rejected(RejectReason.MissingField, 'sequence_num')
    if (this.sequences.regresses('connection', seq)) return rejected(RejectReason.SequenceRegression, `sequence_num ${seq}`)
    if (channel === 'subscriptions' || channel === 'heartbeats') return EMPTY
    const events = message.events
    if (!Array.isArray(events)) return rejected(RejectReason.MissingField, 'events')
    const time = parseRfc3339(message.timestamp)
    const items: Array<Parsed | Reject> = []
    if (channel === 'ticker') {
      for (const event of events as Array<Record<string, unknown>>) {
        const tickers = event?.tickers
        if (!Array.isArray(tickers)) { items.push({ reason: RejectReason.MissingField, detail: 'tickers' }); continue }
        for (const t of tickers as Array<Record<string, unknown>>) {
          items.push(quoteOf(
            this.symbols,
            t?.product_id,
            { bid: t?.best_bid, bidSize: t?.best_bid_quantity, ask: t?.best_ask, askSize: t?.best_ask_quantity },
            seq,
            time
          ))
        }
      }
      return collect(items)
    }
    if (channel === 'market_trades') {
      for (const event of events as Array<Record<string, unknown>>) {
        const trades = event?.trades
        if (!Array.isArray(trades)) { items.push({ reason: RejectReason.MissingField, detail: 'trades' }); continue }
        for (const t of trades as Array<Record<string, unknown>>) {
          const side = t?.side === 'BUY' ? 'buy' : t?.side === 'SELL' ? 'sell' : null
          items.push(tradeOf(
            this.symbols,
            t?.product_id,
            t?.price,
            t?.size,
            side,
            t?.trade_id,
            parseRfc3339(t?.time) ?? time
          ))
        }
      }
      return collect(items)
    }
    return rejected(RejectReason.UnknownMessage, `channel ${shown(channel)}`)
  }
}
