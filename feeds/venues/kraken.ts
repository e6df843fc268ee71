/**
 * Kraken WebSocket v2, as documented: `{"method":"subscribe","params":{"channel":"ticker",
 * "symbol":[..]}}` acknowledged per symbol with `success`, `time_in`, `time_out`; channels
 * `ticker` and `trade` with `type` `snapshot` then `update` and a `data` array; a `status`
 * message on connect and a `heartbeat` every second. Numbers are JSON floats; symbols
 * `BTC/USD`; timestamps RFC 3339 with microseconds.
 */
import { venueSymbol, type Instrument } from '../instruments.ts'
import type { MarketEvent } from '../market-model.ts'
import { rfc3339, type StampedEvent, type VenueServerProtocol, type VenueSession } from './protocol.ts'

const CHANNELS = new Set(['ticker', 'trade'])

export const krakenServer: VenueServerProtocol = {
  venue: 'kraken',

  onConnect () {
    return [JSON.stringify({ channel: 'status', type: 'update', data: [{ api_version: 'v2', connection_id: Math.floor(Math.random() * 2 ** 52), system: 'online', version: '2.0.0' }] })]
  },

  onClientMessage (text, session, instruments) {
    const timeIn = rfc3339(Date.now(), 6)
    let request: { method?: unknown, params?: { channel?: unknown, symbol?: unknown }, req_id?: unknown }
    try {
      request = JSON.parse(text) as typeof request
    } catch {
      return [JSON.stringify({ error: 'Malformed request', success: false, time_in: timeIn, time_out: rfc3339(Date.now(), 6) })]
    }
    const method = request.method
    if (method === 'ping') return [JSON.stringify({ method: 'pong', req_id: request.req_id, time_in: timeIn, time_out: rfc3339(Date.now(), 6) })]
    if (method !== 'subscribe' && method !== 'unsubscribe') {
      return [JSON.stringify({ error: `Unsupported method ${JSON.stringify(method)}`, method, success: false, time_in: timeIn, time_out: rfc3339(Date.now(), 6) })]
    }
    const channel = request.params?.channel
    if (typeof channel !== 'string' || !CHANNELS.has(channel)) {
      return [JSON.stringify({ error: `Channel ${JSON.stringify(channel)} not supported`, method, success: false, time_in: timeIn, time_out: rfc3339(Date.now(), 6) })]
    }
    const symbols = Array.isArray(request.params?.symbol) ? request.params.symbol as unknown[] : []
    const known = new Set(instruments.map((i: Instrument) => venueSymbol('kraken', i)))
    return symbols.map((symbol) => {
      const base = { method, req_id: request.req_id, time_in: timeIn, time_out: rfc3339(Date.now(), 6) }
      if (typeof symbol !== 'string' || !known.has(symbol)) {
        return JSON.stringify({ ...base, error: `Currency pair not supported ${String(symbol)}`, success: false, symbol })
      }
      const key = `${channel}:${symbol}`
      if (method === 'subscribe') session.subscriptions.add(key)
      else session.subscriptions.delete(key)
      return JSON.stringify({ ...base, result: { channel, symbol, snapshot: true, ...(channel === 'ticker' ? { event_trigger: 'bbo' } : {}) }, success: true })
    })
  },

  keyOf (event: MarketEvent) {
    return `${event.type === 'quote' ? 'ticker' : 'trade'}:${venueSymbol('kraken', event.instrument)}`
  },

  encode (stamped: StampedEvent, session: VenueSession) {
    const { event } = stamped
    const symbol = venueSymbol('kraken', event.instrument)
    const key = this.keyOf(event)
    const type = session.snapshotSent.has(key) ? 'update' : 'snapshot'
    session.snapshotSent.add(key)
    const timestamp = rfc3339(stamped.venueTimeMs, 6)
    if (event.type === 'quote') {
      const last = (event.bid + event.ask) / 2
      return `{"channel":"ticker","type":"${type}","data":[{"symbol":"${symbol}","bid":${event.bid},"bid_qty":${event.bidSize},"ask":${event.ask},"ask_qty":${event.askSize},"last":${last},"volume":997038.98383185,"vwap":${last},"low":${last * 0.97},"high":${last * 1.03},"change":-0.00017,"change_pct":-0.17,"timestamp":"${timestamp}"}]}`
    }
    return `{"channel":"trade","type":"${type}","data":[{"symbol":"${symbol}","side":"${event.side}","price":${event.price},"qty":${event.size},"ord_type":"market","trade_id":${stamped.id},"timestamp":"${timestamp}"}]}`
  },

  heartbeat () {
    return '{"channel":"heartbeat"}'
  }
}
