/**
 * `npm run bench:feeds`: ticks per second one feed handler parses, normalises and publishes on
 * one core, per venue format. Messages are pre-encoded by the simulated venue's encoder, then
 * fed to `FeedHandler.handleMessage` in a loop; ticks go through the official NATS client to a
 * tickfan broker in its own process (on another core). A parse-only run (publisher discards)
 * and a publish-only run (the same ticks, no parsing) show where a handler's core goes.
 * Target: >= 100k ticks/s for the Binance format.
 */
import { spawnSync } from 'node:child_process'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { FeedHandler, type TickPublisher } from '../feeds/handlers/feed-handler.ts'
import type { Tick } from '../feeds/tick.ts'
import { DEFAULT_INSTRUMENTS, VENUES, type Venue } from '../feeds/instruments.ts'
import { VenueModel } from '../feeds/market-model.ts'
import { natsTickPublisher } from '../feeds/nats-publisher.ts'
import { newSession } from '../feeds/venues/protocol.ts'
import { VENUE_PROTOCOLS } from '../feeds/venues/venue-server.ts'
import { coreList } from './harness/core-keeper.ts'
import { coreLayout, startNatsServerProcess, startTickfanProcess } from './harness/processes.ts'

const CLI = {
  messages: { type: 'integer', default: 200_000, min: 1000, help: 'Venue messages per run' },
  venues: { type: 'list', default: [...VENUES], help: 'Venue formats to measure' },
  target: { type: 'string', default: 'tickfan', choices: ['tickfan', 'nats-server'], help: 'Broker the handler publishes to (in its own process, on another core)' }
} satisfies OptionTable

/** `n` of one venue's messages, encoded by the simulated venue. */
function venueMessages (venue: Venue, n: number): string[] {
  const model = new VenueModel({
    seed: 1,
    venue,
    instruments: DEFAULT_INSTRUMENTS,
    ratePerSec: 10_000,
    tradeRatio: 0.1,
    bursts: null
  })
  const protocol = VENUE_PROTOCOLS[venue]
  const session = newSession()
  session.combined = true
  const ids = new Map<string, number>()
  const start = Date.now()
  return Array.from({ length: n }, () => {
    const event = model.next()
    const key = `${event.type}:${event.instrument.symbol}`
    const id = (ids.get(key) ?? 0) + 1
    ids.set(key, id)
    return protocol.encode({ event, venueTimeMs: start + event.t, id }, session)
  })
}

const POOL = 50_000

/**
 * Handles `total` messages: passes over one pool of pre-encoded messages, a fresh handler per
 * pass (a handler rejects ids it has already seen). Generating the messages happens once,
 * before anything is timed, so neither the model's work nor its garbage lands in the timed
 * spans; what is timed is the handler alone, as it runs behind a socket.
 */
async function measure (
  pool: readonly string[],
  venue: Venue,
  total: number,
  publisher: TickPublisher,
  drain: () => Promise<void>
): Promise<{ ticksPerSec: number, rejected: number }> {
  const newHandler = (): FeedHandler => new FeedHandler({ venue, url: 'ws://unused', instruments: DEFAULT_INSTRUMENTS, publisher, republishMs: 0 })
  const warm = newHandler()
  for (const m of pool) warm.handleMessage(m) // warm up the JIT
  await drain()
  let ticks = 0
  let rejected = 0
  let timedNs = 0n
  for (let done = 0; done < total; done += pool.length) {
    const handler = newHandler()
    const n = Math.min(pool.length, total - done)
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      handler.handleMessage(pool[i] as string)
      // Yield as socket reads would, so the client's writes reach the broker as they go.
      if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    timedNs += process.hrtime.bigint() - start
    ticks += handler.stats.quotes + handler.stats.trades
    rejected += handler.stats.rejected
  }
  const start = process.hrtime.bigint()
  await drain() // a full round trip: everything published reached the broker
  timedNs += process.hrtime.bigint() - start
  return { ticksPerSec: ticks / (Number(timedNs) / 1e9), rejected }
}

/**
 * The publish step alone: the ticks one pass over the pool produced, encoded and published
 * through the same client, without parsing. Shows how much of a handler's core goes to the
 * official client (headers, framing, socket writes) rather than to its own work.
 */
async function measurePublishOnly (
  pool: readonly string[],
  venue: Venue,
  total: number,
  publisher: TickPublisher,
  drain: () => Promise<void>
): Promise<number> {
  const captured: Array<{ subject: string, tick: Tick }> = []
  const capture = new FeedHandler({ venue, url: 'ws://unused', instruments: DEFAULT_INSTRUMENTS, publisher: { publish: (subject, tick) => captured.push({ subject, tick }) }, republishMs: 0 })
  for (const m of pool) capture.handleMessage(m)
  for (const { subject, tick } of captured) publisher.publish(subject, tick) // warm up
  await drain()
  let sent = 0
  const start = process.hrtime.bigint()
  while (sent < total) {
    for (let i = 0; i < captured.length && sent < total; i++, sent++) {
      const { subject, tick } = captured[i] as { subject: string, tick: Tick }
      publisher.publish(subject, tick)
      if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  await drain()
  return sent / (Number(process.hrtime.bigint() - start) / 1e9)
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:feeds --', 'Feed handler throughput per venue format on one core.', CLI)); return }
  const layout = coreLayout()
  if (layout.load !== undefined) spawnSync('taskset', ['-a', '-p', '-c', String(coreList(layout.load)[0]), String(process.pid)], { stdio: 'ignore' })
  const broker = o.target === 'tickfan' ? await startTickfanProcess(layout.broker) : await startNatsServerProcess(layout.broker)
  const nc = await connect({ servers: broker.natsUrl })
  const nats = natsTickPublisher(nc)
  const discard: TickPublisher = { publish () {} }
  process.stdout.write(`Feed handler throughput, one core (${layout.cores} cores; ${broker.name} on ${layout.broker ?? 'any'})\n`)
  const rows: string[] = []
  try {
    for (const venue of o.venues as Venue[]) {
      const pool = venueMessages(venue, Math.min(POOL, o.messages))
      const parseOnly = await measure(pool, venue, o.messages, discard, async () => {})
      const published = await measure(pool, venue, o.messages, nats, () => nc.flush())
      const publishOnly = await measurePublishOnly(pool, venue, o.messages, nats, () => nc.flush())
      if (published.rejected > 0) throw new Error(`${venue}: ${published.rejected} of its own messages were rejected`)
      const rate = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(9)
      process.stdout.write(`  ${venue.padEnd(9)} parse+normalise ${rate(parseOnly.ticksPerSec)} ticks/s   publish alone ${rate(publishOnly)} ticks/s   parse+normalise+publish ${rate(published.ticksPerSec)} ticks/s\n`)
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
