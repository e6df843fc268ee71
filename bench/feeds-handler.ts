/**
 * `npm run bench:feeds`: ticks per second one feed handler parses, normalises and publishes on
 * one core, per venue format. Messages are pre-encoded by the simulated venue's encoder, then
 * fed to `FeedHandler.handleMessage` in a loop; ticks go through the official NATS client to a
 * tickfan broker in its own process (on another core). A parse-only run (publisher discards)
 * shows how much of the cost is publishing. Target: >= 100k ticks/s for the Binance format.
 */
import { spawnSync } from 'node:child_process'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, type OptionTable } from '../broker/cli-options.ts'
import { FeedHandler, type TickPublisher } from '../feeds/handlers/feed-handler.ts'
import { DEFAULT_INSTRUMENTS, VENUES, type Venue } from '../feeds/instruments.ts'
import { VenueModel } from '../feeds/market-model.ts'
import { natsTickPublisher } from '../feeds/nats-publisher.ts'
import { newSession } from '../feeds/venues/protocol.ts'
import { VENUE_PROTOCOLS } from '../feeds/venues/venue-server.ts'
import { coreLayout, startTickfanProcess } from './harness/processes.ts'

const CLI = {
  messages: { type: 'integer', default: 200_000, min: 1000, help: 'Venue messages per run' },
  venues: { type: 'list', default: [...VENUES], help: 'Venue formats to measure' }
} satisfies OptionTable

/** An endless source of one venue's messages, encoded by the simulated venue, in chunks. */
function messageSource (venue: Venue): (n: number) => string[] {
  const model = new VenueModel({ seed: 1, venue, instruments: DEFAULT_INSTRUMENTS, ratePerSec: 10_000, tradeRatio: 0.1, bursts: null })
  const protocol = VENUE_PROTOCOLS[venue]
  const session = newSession()
  session.combined = true
  const ids = new Map<string, number>()
  const start = Date.now()
  return (n) => Array.from({ length: n }, () => {
    const event = model.next()
    const key = `${event.type}:${event.instrument.symbol}`
    const id = (ids.get(key) ?? 0) + 1
    ids.set(key, id)
    return protocol.encode({ event, venueTimeMs: start + event.t, id }, session)
  })
}

const CHUNK = 20_000

/**
 * Handles `total` messages in chunks generated outside the timed spans, so the benchmark does
 * not hold every message at once (which would make GC mark them all, unlike a live handler).
 */
async function measure (venue: Venue, total: number, publisher: TickPublisher, drain: () => Promise<void>): Promise<{ ticksPerSec: number, rejected: number }> {
  const next = messageSource(venue)
  const warm = new FeedHandler({ venue, url: 'ws://unused', instruments: DEFAULT_INSTRUMENTS, publisher, republishMs: 0 })
  for (const m of next(CHUNK)) warm.handleMessage(m) // warm up the JIT
  await drain()
  const handler = new FeedHandler({ venue, url: 'ws://unused', instruments: DEFAULT_INSTRUMENTS, publisher, republishMs: 0 })
  let timedNs = 0n
  for (let done = 0; done < total; done += CHUNK) {
    const chunk = next(Math.min(CHUNK, total - done))
    const start = process.hrtime.bigint()
    for (let i = 0; i < chunk.length; i++) {
      handler.handleMessage(chunk[i] as string)
      // Yield as socket reads would, so the client's writes reach the broker as they go.
      if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    timedNs += process.hrtime.bigint() - start
  }
  const start = process.hrtime.bigint()
  await drain() // a full round trip: everything published reached the broker
  timedNs += process.hrtime.bigint() - start
  const ticks = handler.stats.quotes + handler.stats.trades
  return { ticksPerSec: ticks / (Number(timedNs) / 1e9), rejected: handler.stats.rejected }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:feeds --', 'Feed handler throughput per venue format on one core.', CLI)); return }
  const layout = coreLayout()
  if (layout.load !== undefined) spawnSync('taskset', ['-a', '-p', '-c', layout.load.split('-')[0] as string, String(process.pid)], { stdio: 'ignore' })
  const broker = await startTickfanProcess(layout.broker)
  const nc = await connect({ servers: broker.natsUrl })
  const nats = natsTickPublisher(nc)
  const discard: TickPublisher = { publish () {} }
  process.stdout.write(`Feed handler throughput, one core (${layout.cores} cores; broker on ${layout.broker ?? 'any'})\n`)
  const rows: string[] = []
  try {
    for (const venue of o.venues as Venue[]) {
      const parseOnly = await measure(venue, o.messages, discard, async () => {})
      const published = await measure(venue, o.messages, nats, () => nc.flush())
      if (published.rejected > 0) throw new Error(`${venue}: ${published.rejected} of its own messages were rejected`)
      const line = `  ${venue.padEnd(9)} parse+normalise ${Math.round(parseOnly.ticksPerSec).toLocaleString('en-US').padStart(9)} ticks/s   + publish to broker ${Math.round(published.ticksPerSec).toLocaleString('en-US').padStart(9)} ticks/s`
      process.stdout.write(`${line}\n`)
      rows.push(`| ${venue} | ${Math.round(parseOnly.ticksPerSec)} | ${Math.round(published.ticksPerSec)} |`)
    }
  } finally {
    await nc.close()
    await broker.stop()
  }
  const binance = rows.find((r) => r.startsWith('| binance'))
  if (binance !== undefined) {
    const rate = Number(binance.split('|')[3])
    process.stdout.write(`${rate >= 100_000 ? 'PASS' : 'FAIL'}  Binance format parse+publish >= 100,000 ticks/s: ${rate.toLocaleString('en-US')}\n`)
  }
})
