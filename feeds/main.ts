/**
 * `npm run feeds -- [options]`: simulated venues and their feed handlers, publishing canonical
 * ticks to a running broker (or any NATS server). Prints a status line every second.
 */
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { NATS_CREDENTIALS_CLI, natsCredentials } from '../lib/client-credentials.ts'
import { createLogger } from '../lib/logger.ts'
import { startFeeds } from './feeds.ts'
import { DEFAULT_INSTRUMENTS, VENUES, findInstruments, type Venue } from './instruments.ts'

export const FEEDS_CLI = {
  venues: { type: 'list', default: [...VENUES], help: 'Venues to simulate and handle' },
  rate: { type: 'integer', default: 1000, min: 1, help: 'Messages per second per venue in a calm market (bursts raise it)' },
  venueRates: { type: 'pairs', default: {}, help: 'Per-venue rates that replace --rate, e.g. binance=5000,kraken=300' },
  instrumentWeights: { type: 'pairs', default: {}, help: 'Each instrument\'s share of a venue\'s rate, relative (default 1), e.g. BTC-USD=5,DOGE-USD=0.5' },
  instruments: { type: 'list', default: DEFAULT_INSTRUMENTS.map((i) => i.symbol), help: 'Instruments every venue lists' },
  seed: { type: 'integer', default: 1, help: 'Seed of the market model (same seed, same market)' },
  tradeRatio: { type: 'number', default: 0.1, min: 0, max: 1, help: 'Fraction of venue messages that are trades' },
  bursty: { type: 'boolean', default: true, help: 'Volatility bursts with higher message rates (--no-bursty for a steady market)' },
  nats: { type: 'string', default: 'nats://127.0.0.1:4222', help: 'NATS server to publish to (the tickfan broker or any nats-server)' },
  ...NATS_CREDENTIALS_CLI,
  stallMs: { type: 'integer', default: 5000, min: 100, help: 'A venue silent this long is reconnected (ms)' },
  republishMs: { type: 'integer', default: 1000, min: 0, help: 'Re-publish an unchanged quote after this long (ms, 0 = off)' },
  record: { type: 'string', default: '', help: 'Record the normalised stream to this file (JSON Lines)' },
  logLevel: { type: 'string', default: 'warn', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], help: 'Log level' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), FEEDS_CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run feeds --', 'tickfan feeds: simulated Binance, Coinbase and Kraken venues and the feed handlers that normalise and publish their ticks.', FEEDS_CLI))
    return
  }
  for (const v of o.venues) if (!(VENUES as readonly string[]).includes(v)) throw new UsageError(`--venues: unknown venue ${JSON.stringify(v)}; known: ${VENUES.join(', ')}`)
  let instruments
  try { instruments = findInstruments(o.instruments) } catch (err) { throw new UsageError(`--instruments: ${(err as Error).message}`) }
  for (const v of Object.keys(o.venueRates)) if (!o.venues.includes(v)) throw new UsageError(`--venue-rates: ${JSON.stringify(v)} is not one of --venues (${o.venues.join(', ')})`)
  for (const s of Object.keys(o.instrumentWeights)) if (!instruments.some((i) => i.symbol === s)) throw new UsageError(`--instrument-weights: ${JSON.stringify(s)} is not one of --instruments`)
  const logger = createLogger(o.logLevel, 'tickfan-feeds')
  const feeds = await startFeeds({
    venues: o.venues as Venue[],
    instruments,
    ratePerSec: o.rate,
    venueRates: o.venueRates,
    instrumentWeights: o.instrumentWeights,
    seed: o.seed,
    tradeRatio: o.tradeRatio,
    bursty: o.bursty,
    natsUrl: o.nats,
    credentials: natsCredentials(o),
    stallMs: o.stallMs,
    republishMs: o.republishMs,
    recordPath: o.record === '' ? null : o.record,
    logger
  })
  process.stdout.write(`tickfan feeds publishing to ${o.nats}\n${feeds.venues.map((v) => `  ${v.venue.padEnd(9)} venue ${v.url}`).join('\n')}\n`)
  const previous = new Map<string, { messages: number, quotes: number, trades: number }>()
  const status = setInterval(() => {
    const parts = feeds.handlers.map((h) => {
      const s = h.stats
      const p = previous.get(h.venue) ?? { messages: 0, quotes: 0, trades: 0 }
      previous.set(h.venue, { messages: s.messages, quotes: s.quotes, trades: s.trades })
      return `${h.venue} ${s.connected ? '' : '(down) '}${s.messages - p.messages} msg/s ${s.quotes - p.quotes} q/s ${s.trades - p.trades} t/s rej ${s.rejected}`
    })
    process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${parts.join(' | ')}\n`)
  }, 1000)
  const stop = (signal: string): void => {
    clearInterval(status)
    process.stdout.write(`\n${signal}: stopping feeds...\n`)
    feeds.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
})
