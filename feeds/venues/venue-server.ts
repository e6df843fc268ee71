/**
 * A simulated venue: a WebSocket server speaking one venue's protocol, streaming the market
 * model's events at the configured rate. Event content is deterministic for a seed; the wall
 * clock only paces it (virtual time t is emitted when t ms have elapsed since start).
 *
 * Test hooks: `stall()` stops sending anything (the connection stays open, heartbeats stop),
 * `resume()` restarts, `injectRaw()` sends arbitrary text to every client (bad-input tests).
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Instrument, Venue } from '../instruments.ts'
import { VenueModel, type BurstOptions } from '../market-model.ts'
import { binanceServer } from './binance.ts'
import { coinbaseServer } from './coinbase.ts'
import { krakenServer } from './kraken.ts'
import { newSession, type StampedEvent, type VenueServerProtocol, type VenueSession } from './protocol.ts'

export const VENUE_PROTOCOLS: Record<Venue, VenueServerProtocol> = {
  binance: binanceServer,
  coinbase: coinbaseServer,
  kraken: krakenServer
}

export interface VenueServerOptions {
  venue: Venue
  instruments: readonly Instrument[]
  /** Messages per second across all instruments in a calm market. */
  ratePerSec: number
  /** Relative share of each instrument (canonical symbol -> weight, default 1). */
  instrumentWeights?: Readonly<Record<string, number>>
  seed: number
  tradeRatio?: number
  /** Volatility bursts; null = steady. */
  bursts?: BurstOptions | null
  host?: string
  /** 0 = any free port. */
  port?: number
  /** Application heartbeat interval (ms). Default 1000. */
  heartbeatMs?: number
  /** WebSocket-level ping interval (ms), as Binance does. Default 3000. */
  pingMs?: number
}

export interface RunningVenue {
  readonly venue: Venue
  readonly port: number
  readonly url: string
  /** Events generated and messages sent since start. */
  readonly stats: { events: number, messagesSent: number, clients: number, lagMs: number }
  stall (): void
  resume (): void
  injectRaw (text: string): void
  close (): Promise<void>
}

interface Client {
  ws: WebSocket
  session: VenueSession
}

export async function startVenueServer (options: VenueServerOptions): Promise<RunningVenue> {
  const protocol = VENUE_PROTOCOLS[options.venue]
  const model = new VenueModel({
    seed: options.seed,
    venue: options.venue,
    instruments: options.instruments,
    ratePerSec: options.ratePerSec,
    instrumentWeights: options.instrumentWeights,
    tradeRatio: options.tradeRatio,
    bursts: options.bursts
  })
  const wss = new WebSocketServer({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve)
    wss.once('error', reject)
  })
  const port = (wss.address() as AddressInfo).port
  const clients = new Set<Client>()
  const stats = { events: 0, messagesSent: 0, clients: 0, lagMs: 0 }
  const ids = new Map<string, number>()
  let stalled = false

  wss.on('connection', (ws, req) => {
    const client: Client = { ws, session: newSession() }
    clients.add(client)
    stats.clients = clients.size
    const url = new URL(req.url ?? '/', 'ws://venue')
    for (const reply of protocol.onConnect(url, client.session, options.instruments)) ws.send(reply)
    ws.on('message', (data) => {
      for (const reply of protocol.onClientMessage(data.toString(), client.session, options.instruments)) ws.send(reply)
    })
    ws.on('close', () => { clients.delete(client); stats.clients = clients.size })
    ws.on('error', () => {})
  })

  const startedAt = Date.now()
  let next = model.next()
  const emit = (): void => {
    const elapsed = Date.now() - startedAt
    let budget = 20_000 // keep the loop responsive when far behind
    while (next.t <= elapsed && budget-- > 0) {
      const event = next
      next = model.next()
      stats.events++
      if (stalled) continue
      const key = protocol.keyOf(event)
      const idKey = `${event.type}:${event.instrument.symbol}`
      const id = (ids.get(idKey) ?? 0) + 1
      ids.set(idKey, id)
      const stamped: StampedEvent = { event, venueTimeMs: startedAt + event.t, id }
      for (const c of clients) {
        if (!c.session.subscriptions.has(key) || c.ws.readyState !== c.ws.OPEN) continue
        c.ws.send(protocol.encode(stamped, c.session))
        stats.messagesSent++
      }
    }
    stats.lagMs = Math.max(0, elapsed - next.t)
    timer = setTimeout(emit, 1)
  }
  let timer = setTimeout(emit, 1)

  const heartbeat = setInterval(() => {
    if (stalled) return
    const now = Date.now()
    for (const c of clients) {
      const beat = protocol.heartbeat(c.session, now)
      if (beat !== null && c.ws.readyState === c.ws.OPEN) c.ws.send(beat)
    }
  }, options.heartbeatMs ?? 1000)
  const pinger = setInterval(() => {
    if (stalled) return
    for (const c of clients) if (c.ws.readyState === c.ws.OPEN) c.ws.ping()
  }, options.pingMs ?? 3000)

  return {
    venue: options.venue,
    port,
    url: `ws://127.0.0.1:${port}`,
    stats,
    stall () { stalled = true },
    resume () { stalled = false },
    injectRaw (text: string) {
      for (const c of clients) if (c.ws.readyState === c.ws.OPEN) c.ws.send(text)
    },
    async close () {
      clearTimeout(timer)
      clearInterval(heartbeat)
      clearInterval(pinger)
      for (const c of clients) c.ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    }
  }
}
