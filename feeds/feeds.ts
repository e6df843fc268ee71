/**
 * Starts simulated venues and their feed handlers in this process, publishing to a NATS server:
 * what `npm run feeds` and `npm start` run.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { NatsCredentials } from '../lib/client-credentials.ts'
import { FeedHandler, type HandlerLogger } from './handlers/feed-handler.ts'
import { DEFAULT_INSTRUMENTS, type Instrument, type Venue } from './instruments.ts'
import { DEFAULT_BURSTS } from './market-model.ts'
import { natsTickPublisher } from './nats-publisher.ts'
import { TickRecorder } from './recorder.ts'
import { startVenueServer, type RunningVenue } from './venues/venue-server.ts'

export interface FeedsOptions {
  venues: readonly Venue[]
  instruments?: readonly Instrument[]
  /** Messages per second per venue in a calm market. */
  ratePerSec: number
  /** Per-venue rates that replace `ratePerSec` for those venues. */
  venueRates?: Partial<Record<Venue, number>>
  /** Each instrument's relative share of a venue's rate (canonical symbol -> weight, default 1). */
  instrumentWeights?: Readonly<Record<string, number>>
  seed: number
  tradeRatio?: number
  bursty?: boolean
  natsUrl: string
  /** NATS credentials, when the server requires them. */
  credentials?: NatsCredentials
  stallMs?: number
  republishMs?: number
  recordPath?: string | null
  logger?: HandlerLogger
}

export interface RunningFeeds {
  readonly venues: RunningVenue[]
  readonly handlers: FeedHandler[]
  readonly nc: NatsConnection
  readonly recorder: TickRecorder | null
  close (): Promise<void>
}

export async function startFeeds (options: FeedsOptions): Promise<RunningFeeds> {
  const instruments = options.instruments ?? DEFAULT_INSTRUMENTS
  const nc = await connect({
    servers: options.natsUrl,
    name: 'tickfan-feeds',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...options.credentials
  })
  const publisher = natsTickPublisher(nc)
  // Back from an outage: the recent trades again, if the server's history is younger than
  // they are (a broker that restarted), so it has them.
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'reconnect') continue
      const oldest = publisher.oldestRecentAtMs
      if (oldest !== null && await historyCreatedAfter(nc, HISTORY_STREAM, oldest)) publisher.republishRecentTrades()
    }
  })()
  const recorder = options.recordPath === undefined || options.recordPath === null
    ? null
    : new TickRecorder(options.recordPath)
  const venues: RunningVenue[] = []
  const handlers: FeedHandler[] = []
  try {
    for (const venue of options.venues) {
      const running = await startVenueServer({
        venue,
        instruments,
        ratePerSec: options.venueRates?.[venue] ?? options.ratePerSec,
        instrumentWeights: options.instrumentWeights,
        seed: options.seed,
        tradeRatio: options.tradeRatio,
        bursts: options.bursty === false ? null : DEFAULT_BURSTS
      })
      venues.push(running)
      const handler = new FeedHandler({
        venue,
        url: running.url,
        instruments,
        publisher,
        stallMs: options.stallMs,
        republishMs: options.republishMs,
        recorder,
        logger: options.logger
      })
      handler.start()
      handlers.push(handler)
    }
    await Promise.all(handlers.map((h) => h.connected()))
  } catch (err) {
    await Promise.all([...handlers.map((h) => h.stop()), ...venues.map((v) => v.close())])
    await nc.close()
    throw err
  }
  return {
    venues,
    handlers,
    nc,
    recorder,
    async close () {
      await Promise.all(handlers.map((h) => h.stop()))
      await Promise.all(venues.map((v) => v.close()))
      await nc.flush().catch(() => {})
      await nc.close()
      await recorder?.close()
    }
  }
}

/** The trade history stream feed handlers fill after a broker restart (the broker's `--history` default). */
export const HISTORY_STREAM = 'trades'

/**
 * Whether the server holds a history stream `stream` created after `ms` (JetStream's stream
 * info; false when it has none, or does not answer).
 */
export async function historyCreatedAfter (nc: NatsConnection, stream: string, ms: number): Promise<boolean> {
  try {
    const reply = await nc.request(`$JS.API.STREAM.INFO.${stream}`, '', { timeout: 2000 })
    const info = reply.json<{ created?: unknown, error?: unknown }>()
    return info.error === undefined && typeof info.created === 'string' && Date.parse(info.created) > ms
  } catch {
    return false
  }
}
