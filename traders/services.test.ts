/**
 * Services and bots against the real broker with the official client: nothing upstream knows
 * they exist, and each does its job.
 */
import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { CONFLATED_HEADER, SEQUENCE_HEADER } from '../lib/headers.ts'
import { RawClient } from '../broker/test-support/raw-client.ts'
import { eventually, startReference, startTickfan, type Target } from '../broker/test-support/targets.ts'
import type { BboTick, QuoteTick } from '../feeds/tick.ts'
import type { Anomaly } from './anomaly.ts'
import type { ArbitrageSignal } from './arbitrage.ts'
import { startBot } from './bot.ts'
import type { GroupStats } from './stats.ts'
import { ALERTS_SUBJECT, ARBITRAGE_PREFIX, startServices, type PriceReply } from './services.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

async function setup (): Promise<{ target: Target, nc: NatsConnection }> {
  const target = await startTickfan()
  cleanups.push(() => target.stop())
  const nc = await connect({ servers: target.natsUrl })
  cleanups.push(() => nc.close())
  return { target, nc }
}

let seq = 1
function publishQuote (nc: NatsConnection, venue: 'binance' | 'coinbase' | 'kraken', bid: number, ask: number, symbol = 'BTC-USD'): void {
  const now = Date.now()
  const q: QuoteTick = { v: 1, type: 'quote', venue, symbol, bid, bidSize: 1, ask, askSize: 1, venueSeq: null, seq: seq++, venueTime: now, recvTime: now, pubTime: now, pubMono: Number(process.hrtime.bigint() / 1000n) }
  const h = headers()
  h.set(SEQUENCE_HEADER, String(q.seq))
  nc.publish(`quote.${venue}.${symbol}`, JSON.stringify(q), { headers: h })
}

function collect<T> (nc: NatsConnection, subject: string): T[] {
  const out: T[] = []
  nc.subscribe(subject, { callback: (_e, m) => { out.push(JSON.parse(new TextDecoder().decode(m.data)) as T) } })
  return out
}

describe('services', () => {
  it('the consolidator publishes the best bid and offer across venues on bbo.<SYM>', async () => {
    const { target, nc } = await setup()
    const services = await startServices({ natsUrl: target.natsUrl, priceMembers: 1 })
    cleanups.push(() => services.close())
    const bbos = collect<BboTick>(nc, 'bbo.BTC-USD')
    await nc.flush()
    publishQuote(nc, 'binance', 100, 101)
    publishQuote(nc, 'kraken', 100.5, 102)
    await eventually(() => bbos.some((b) => b.venues === 2), 3000, 'a two-venue bbo')
    expect(bbos.at(-1)).toMatchObject({ type: 'bbo', symbol: 'BTC-USD', bid: 100.5, bidVenue: 'kraken', ask: 101, askVenue: 'binance', crossed: false })
    // bbo is a last-value subject: a late subscriber gets it from the cache
    const late = await fetch(`${target.httpUrl}/lvc?subject=bbo.BTC-USD`).then(async (r) => await r.json() as { count: number })
    expect(late.count).toBe(1)
  })

  it('the arbitrage watcher flags a crossed market when it opens and when it closes', async () => {
    const { target, nc } = await setup()
    const services = await startServices({ natsUrl: target.natsUrl, priceMembers: 1 })
    cleanups.push(() => services.close())
    const signals = collect<ArbitrageSignal>(nc, `${ARBITRAGE_PREFIX}.>`)
    await nc.flush()
    publishQuote(nc, 'binance', 100, 101)
    publishQuote(nc, 'coinbase', 102, 103)
    await eventually(() => signals.length === 1, 3000, 'an open signal')
    expect(signals[0]).toMatchObject({ state: 'open', buyVenue: 'binance', sellVenue: 'coinbase', buyPrice: 101, sellPrice: 102 })
    publishQuote(nc, 'coinbase', 100, 101.5)
    await eventually(() => signals.length === 2, 3000, 'a closed signal')
    expect(signals[1]?.state).toBe('closed')
  })

  it('the reference price is answered by several members of its queue group, one reply per request', async () => {
    const { target, nc } = await setup()
    const services = await startServices({ natsUrl: target.natsUrl, priceMembers: 3 })
    cleanups.push(() => services.close())
    publishQuote(nc, 'binance', 100, 102)
    await nc.flush()
    await eventually(async () => {
      const r = JSON.parse(new TextDecoder().decode((await nc.request('price.BTC-USD', '', { timeout: 1000 })).data)) as PriceReply
      return r.mid === 101
    }, 3000, 'members to know the price')
    const members = new Set<string>()
    for (let i = 0; i < 30; i++) {
      const reply = JSON.parse(new TextDecoder().decode((await nc.request('price.BTC-USD', '', { timeout: 1000 })).data)) as PriceReply
      expect(reply).toMatchObject({ symbol: 'BTC-USD', bid: 100, ask: 102, mid: 101 })
      members.add(reply.member)
    }
    expect(members.size).toBeGreaterThanOrEqual(2)
  })

  it('the monitor reports a venue gone silent, without any publisher knowing it exists', async () => {
    const { target, nc } = await setup()
    const services = await startServices({ natsUrl: target.natsUrl, priceMembers: 1, silentMs: 300, log: () => {} })
    cleanups.push(() => services.close())
    const alerts = collect<Anomaly>(nc, ALERTS_SUBJECT)
    await nc.flush()
    publishQuote(nc, 'kraken', 1, 2)
    await eventually(() => alerts.some((a) => a.kind === 'venue_silent' && a.venue === 'kraken'), 3000, 'a silent-venue alert')
    publishQuote(nc, 'kraken', 1, 2)
    await eventually(() => alerts.some((a) => a.kind === 'venue_back'), 3000, 'a venue-back alert')
  })
})

describe('bots', () => {
  it('measure what they receive and count what they cannot decode, carrying on', async () => {
    const { target, nc } = await setup()
    const logs: string[] = []
    const bot = await startBot({ name: 'b1', natsUrl: target.natsUrl, subjects: ['quote.>'], log: (m) => logs.push(m) })
    cleanups.push(() => bot.close())
    publishQuote(nc, 'binance', 1, 2)
    nc.publish('quote.binance.BTC-USD', 'garbage')
    publishQuote(nc, 'binance', 1, 2)
    await eventually(() => bot.measurements.received === 2 && bot.measurements.decodeErrors === 1, 3000, 'two ticks and one decode error')
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatch(/cannot decode a message \(quote.binance.BTC-USD: not JSON\)/)
    const r = bot.measurements.report()
    expect(r.orderViolations).toBe(0)
    expect(r.latencyUs.count).toBe(2)
  })

  it('a slow bot (in its own process) is conflated by the broker and learns how many updates it skipped', async () => {
    const target = await startTickfan({ highWaterBytes: 8 * 1024, maxInFlightBytes: 16 * 1024 })
    cleanups.push(() => target.stop())
    const nc = await connect({ servers: target.natsUrl })
    cleanups.push(() => nc.close())
    const stats = collect<GroupStats>(nc, 'stats.traders.slow')
    await nc.flush()
    // One slow bot taking 5 ms per message: it blocks its own process, so it runs in one.
    const child = fork(path.join(ROOT, 'traders/main.ts'), ['--nats', target.natsUrl, '--bots', '1', '--slow', '1', '--slow-cost-us', '5000',
      '--slow-stall-every-ms', '0', '--subjects', 'quote.>', '--requests-per-sec', '0', '--quiet', '--stats-ms', '200'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    cleanups.push(async () => { child.kill('SIGTERM'); await exited })
    await eventually(() => stats.length > 0, 10_000, 'the slow group to report')
    let round = 0
    await eventually(async () => {
      for (let i = 0; i < 200; i++) publishQuote(nc, 'binance', 1 + round, 2 + round, `S${i % 5}-USD`)
      round++
      await nc.flush()
      return stats.reduce((n, s) => n + s.skipped, 0) > 0
    }, 15_000, 'skipped updates reported by the broker to the slow bot')
    expect(stats.reduce((n, s) => n + s.orderViolations, 0)).toBe(0)
  })
})

describe('a bot against a nats-server, which relays what tickfan refuses', () => {
  interface BotOnNatsServer {
    server: Target
    nc: NatsConnection
    bot: Awaited<ReturnType<typeof startBot>>
    logs: string[]
  }
  async function botOnNatsServer (): Promise<BotOnNatsServer> {
    const server = await startReference()
    cleanups.push(() => server.stop())
    const nc = await connect({ servers: server.natsUrl })
    cleanups.push(() => nc.close())
    const logs: string[] = []
    const bot = await startBot({ name: 'b1', natsUrl: server.natsUrl, subjects: ['quote.>'], log: (m) => logs.push(m) })
    cleanups.push(() => bot.close())
    return { server, nc, bot, logs }
  }

  it('reads on past a quote whose header block nats.js cannot read, counting it: before, its connection read nothing more', async () => {
    const { server, nc, bot, logs } = await botOnNatsServer()
    const raw = await RawClient.connect(server.port)
    cleanups.push(async () => { raw.close() })
    const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'
    const now = Date.now()
    const body = JSON.stringify({ v: 1, type: 'quote', venue: 'binance', symbol: 'BTC-USD', bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0 })
    raw.send(`CONNECT {"verbose":false,"headers":true}\r\nHPUB quote.binance.BTC-USD ${block.length} ${block.length + body.length}\r\n${block}${body}\r\n`)
    await raw.roundTrip()
    publishQuote(nc, 'kraken', 100.5, 102)
    await eventually(() => bot.measurements.received === 1, 5000, 'the good quote at the bot')
    expect(bot.measurements.decodeErrors).toBe(1)
    expect(logs).toEqual(["b1: cannot decode a message (quote.binance.BTC-USD: 'header' ' ' is not a valid character in a header name); 0 more since the last report"])
  })

  it('does not sum a forged Tickfan-Conflated into what it skipped: before, its skipped total became NaN for good', async () => {
    const { nc, bot, logs } = await botOnNatsServer()
    const now = Date.now()
    const quote = (skipped: string, seqNo: number): void => {
      const h = headers()
      h.set(CONFLATED_HEADER, skipped)
      const body = { v: 1, type: 'quote', venue: 'binance', symbol: 'BTC-USD', bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: seqNo, venueTime: now, recvTime: now, pubTime: now, pubMono: 0 }
      nc.publish('quote.binance.BTC-USD', JSON.stringify(body), { headers: h })
    }
    quote('abc', 1)
    quote('-5', 2)
    quote('3', 3)
    await eventually(() => bot.measurements.received === 3, 5000, 'three quotes at the bot')
    expect(bot.measurements.report().skipped).toBe(3)
    expect(logs).toEqual(['b1: ignored a header (quote.binance.BTC-USD: Tickfan-Conflated is not a count: "abc"); 0 more since the last report'])
  })
})

describe('the traders\' status line', () => {
  it('refuses stats that are not a bot group\'s, and goes on: before, the next status line threw and the process exited', async () => {
    const target = await startTickfan()
    cleanups.push(() => target.stop())
    const nc = await connect({ servers: target.natsUrl })
    cleanups.push(() => nc.close())
    const child = fork(path.join(ROOT, 'traders/main.ts'), ['--nats', target.natsUrl, '--bots', '1', '--slow', '0', '--subjects', 'quote.>',
      '--requests-per-sec', '0', '--stats-ms', '200'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    let out = ''
    child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
    let exitCode: number | null = null
    const exited = new Promise((resolve) => child.once('exit', (code) => { exitCode = code; resolve(code) }))
    cleanups.push(async () => { child.kill('SIGTERM'); await exited })
    const statusLines = (): number => (out.match(/ fast 1 bots /g) ?? []).length
    await eventually(() => statusLines() > 0, 10_000, 'the first status line')
    nc.publish('stats.traders.evil', '{}')
    await nc.flush()
    const seen = statusLines()
    await eventually(() => statusLines() >= seen + 3 || exitCode !== null, 10_000, 'three more status lines')
    expect(exitCode).toBeNull()
    expect(out).toContain('stats: refused a message (stats.traders.evil: field group is not a string)')
  })
})
