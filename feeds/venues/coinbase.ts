/**
 * Coinbase Advanced Trade market data, as documented: subscribe per channel
 * (`{"type":"subscribe","product_ids":[..],"channel":"ticker"}`), channels `ticker`,
 * `market_trades` and `heartbeats`; every message is an envelope with `channel`, `timestamp`
 * (RFC 3339, nanoseconds) and a per-connection `sequence_num`; the first ticker message per
 * subscription is a `snapshot` event, then `update`s. Decimals are strings; symbols `BTC-USD`.
 */
import { venueSymbol } from '../instruments.ts'
import type { MarketEvent } from '../market-model.ts'
import { rfc3339, type StampedEvent, type VenueServerProtocol, type VenueSession } from './protocol.ts'

const CHANNELS = new Set(['ticker', 'market_trades', 'heartbeats'])

function envelope (channel: string, session: VenueSession, epochMs: number, events: string): string {
  return `{"channel":"${channel}","client_id":"","timestamp":"${rfc3339(epochMs, 9)}","sequence_num":${session.sent++},"events":${events}}`
}

function subscriptionsBody (session: VenueSession): string {
  const byChannel: Record<string, string[]> = {}
  for (const key of session.subscriptions) {
    const [channel, product] = key.split(':') as [string, string]
    ;(byChannel[channel] ??= []).push(product)
  }
  return JSON.stringify([{ subscriptions: byChannel }])
}

export const coinbaseServer: VenueServerProtocol = {
  venue: 'coinbase',

  onConnect () {
    return []
  },

  onClientMessage (text, session, instruments) {
    let request: { type?: unknown, product_ids?: unknown, channel?: unknown }
    try {
      request = JSON.parse(text) as typeof request
    } catch {
      return [JSON.stringify({ type: 'error', message: 'failure to parse message' })]
    }
    if (request.type !== 'subscribe' && request.type !== 'unsubscribe') {
      return [JSON.stringify({ type: 'error', message: `unknown message type ${JSON.stringify(request.type)}` })]
    }
    if (typeof request.channel !== 'string' || !CHANNELS.has(request.channel)) {
      return [JSON.stringify({ type: 'error', message: `channel ${JSON.stringify(request.channel)} is not a valid channel` })]
    }
    const products = Array.isArray(request.product_ids) ? request.product_ids as unknown[] : []
    const known = new Set(instruments.map((i) => venueSymbol('coinbase', i)))
    for (const p of products) {
      if (typeof p !== 'string' || !known.has(p)) return [JSON.stringify({ type: 'error', message: `Failed to subscribe: product ${JSON.stringify(p)} not found` })]
    }
    const channel = request.channel
    const keys = channel === 'heartbeats' ? ['heartbeats:'] : products.map((p) => `${channel}:${String(p)}`)
    for (const key of keys) {
      if (request.type === 'subscribe') session.subscriptions.add(key)
      else session.subscriptions.delete(key)
    }
    return [envelope('subscriptions', session, Date.now(), subscriptionsBody(session))]
  },

  keyOf (event: MarketEvent) {
    return `${event.type === 'quote' ? 'ticker' : 'market_trades'}:${venueSymbol('coinbase', event.instrument)}`
  },

  encode (stamped: StampedEvent, session: VenueSession) {
    const { event } = stamped
    const i = event.instrument
    const product = venueSymbol('coinbase', i)
    const p = (n: number): string => n.toFixed(i.priceDecimals)
    const q = (n: number): string => n.toFixed(i.sizeDecimals)
    if (event.type === 'quote') {
      const key = `ticker:${product}`
      const type = session.snapshotSent.has(key) ? 'update' : 'snapshot'
      session.snapshotSent.add(key)
      const mid = (event.bid + event.ask) / 2
      const ticker = `{"type":"ticker","product_id":"${product}","price":"${p(mid)}","volume_24_h":"16038.28770938","low_24_h":"${p(mid * 0.97)}","high_24_h":"${p(mid * 1.03)}","low_52_w":"${p(mid * 0.5)}","high_52_w":"${p(mid * 1.6)}","price_percent_chg_24_h":"-1.21","best_bid":"${p(event.bid)}","best_bid_quantity":"${q(event.bidSize)}","best_ask":"${p(event.ask)}","best_ask_quantity":"${q(event.askSize)}"}`
      return envelope('ticker', session, stamped.venueTimeMs, `[{"type":"${type}","tickers":[${ticker}]}]`)
    }
    const trade = `{"trade_id":"${stamped.id}","product_id":"${product}","price":"${p(event.price)}","size":"${q(event.size)}","side":"${event.side === 'buy' ? 'BUY' : 'SELL'}","time":"${rfc3339(stamped.venueTimeMs, 6)}"}`
    return envelope('market_trades', session, stamped.venueTimeMs, `[{"type":"update","trades":[${trade}]}]`)
  },

  heartbeat (session: VenueSession, nowMs: number) {
    if (!session.subscriptions.has('heartbeats:')) return null
    return envelope('heartbeats', session, nowMs, `[{"current_time":"${new Date(nowMs).toISOString()}","heartbeat_counter":${session.sent}}]`)
  }
}
