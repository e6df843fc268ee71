/**
 * Binance spot market streams, as documented: combined streams (`/stream?streams=a/b`, each
 * message wrapped as `{"stream":..,"data":..}`) or raw (`/ws`), live SUBSCRIBE / UNSUBSCRIBE
 * requests answered with `{"result":null,"id":..}`, `<symbol>@bookTicker` and `<symbol>@trade`.
 * Decimals are strings; symbols `BTCUSDT`; no application heartbeat (the server pings at the
 * WebSocket level).
 */
import { venueSymbol, type Instrument } from '../instruments.ts'
import type { MarketEvent } from '../market-model.ts'
import type { StampedEvent, VenueServerProtocol, VenueSession } from './protocol.ts'

function streamName (channel: 'bookTicker' | 'trade', instrument: Instrument): string {
  return `${venueSymbol('binance', instrument).toLowerCase()}@${channel}`
}

function knownStreams (instruments: readonly Instrument[]): Set<string> {
  const names = new Set<string>()
  for (const i of instruments) {
    names.add(streamName('bookTicker', i))
    names.add(streamName('trade', i))
  }
  return names
}

export const binanceServer: VenueServerProtocol = {
  venue: 'binance',

  onConnect (url, session, instruments) {
    session.combined = url.pathname.startsWith('/stream')
    const streams = url.searchParams.get('streams')
    if (streams !== null) {
      const known = knownStreams(instruments)
      for (const s of streams.split('/')) if (known.has(s)) session.subscriptions.add(s)
    }
    return []
  },

  onClientMessage (text, session, instruments) {
    let request: { method?: unknown, params?: unknown, id?: unknown }
    try {
      request = JSON.parse(text) as typeof request
    } catch (err) {
      return [JSON.stringify({ code: 3, msg: `Invalid JSON: ${(err as Error).message}` })]
    }
    const id = request.id ?? null
    if (request.method !== 'SUBSCRIBE' && request.method !== 'UNSUBSCRIBE' && request.method !== 'LIST_SUBSCRIPTIONS') {
      return [JSON.stringify({ code: 2, msg: `Invalid request: unknown variant \`${String(request.method)}\`, expected one of \`SUBSCRIBE\`, \`UNSUBSCRIBE\`, \`LIST_SUBSCRIPTIONS\``, id })]
    }
    if (request.method === 'LIST_SUBSCRIPTIONS') return [JSON.stringify({ result: [...session.subscriptions], id })]
    if (!Array.isArray(request.params) || !request.params.every((p) => typeof p === 'string')) {
      return [JSON.stringify({ code: 2, msg: 'Invalid request: params must be an array of stream names', id })]
    }
    const known = knownStreams(instruments)
    for (const stream of request.params as string[]) {
      if (!known.has(stream)) continue // Binance accepts unknown streams and sends nothing on them
      if (request.method === 'SUBSCRIBE') session.subscriptions.add(stream)
      else session.subscriptions.delete(stream)
    }
    return [JSON.stringify({ result: null, id })]
  },

  keyOf (event: MarketEvent) {
    return streamName(event.type === 'quote' ? 'bookTicker' : 'trade', event.instrument)
  },

  encode (stamped: StampedEvent, session: VenueSession) {
    const { event } = stamped
    const i = event.instrument
    const symbol = venueSymbol('binance', i)
    let data: string
    if (event.type === 'quote') {
      data = `{"u":${stamped.id},"s":"${symbol}","b":"${event.bid.toFixed(i.priceDecimals)}","B":"${event.bidSize.toFixed(i.sizeDecimals)}","a":"${event.ask.toFixed(i.priceDecimals)}","A":"${event.askSize.toFixed(i.sizeDecimals)}"}`
    } else {
      const ms = Math.floor(stamped.venueTimeMs)
      // m: is the buyer the maker? True when the aggressor sold.
      data = `{"e":"trade","E":${ms},"s":"${symbol}","t":${stamped.id},"p":"${event.price.toFixed(i.priceDecimals)}","q":"${event.size.toFixed(i.sizeDecimals)}","T":${ms},"m":${event.side === 'sell'},"M":true}`
    }
    return session.combined ? `{"stream":"${this.keyOf(event)}","data":${data}}` : data
  },

  heartbeat () {
    return null
  }
}
