/**
 * The feed pipeline over real sockets: simulated venue -> feed handler -> broker (tickfan, and a
 * real nats-server) -> a subscriber with the official client.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { delay, eventually, startReference, startTickfan, type Target } from '../broker/test-support/targets.ts'
import { SEQUENCE_HEADER } from '../lib/headers.ts'
import { FeedHandler } from './handlers/feed-handler.ts'
import { findInstruments, type Venue } from './instruments.ts'
import { natsTickPublisher } from './nats-publisher.ts'
import { TickRecorder, readRecording, replay } from './recorder.ts'
import { parseTick, type QuoteTick, type Tick } from './tick.ts'
import { startVenueServer, type RunningVenue } from './venues/venue-server.ts'

const instruments = findInstruments(['BTC-USD', 'ETH-USD'])
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function pipeline (
  venue: Venue,
  target: Target,
  extra: { stallMs?: number, republishMs?: number, rate?: number, recorder?: TickRecorder } = {}
): Promise<{ venueServer: RunningVenue, handler: FeedHandler, pub: NatsConnection }> {
  const venueServer = await startVenueServer({
    venue,
    instruments,
    ratePerSec: extra.rate ?? 500,
    seed: 1,
    bursts: null
  })
  cleanups.push(() => venueServer.close())
  const pub = await connect({ servers: target.natsUrl })
  cleanups.push(() => pub.close())
  const handler = new FeedHandler({
    venue,
    url: venueServer.url,
    instruments,
    publisher: natsTickPublisher(pub),
    stallMs: extra.stallMs,
    republishMs: extra.republishMs ?? 0,
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    recorder: extra.recorder
  })
  handler.start()
  cleanups.push(() => handler.stop())
  await handler.connected()
  return { venueServer, handler, pub }
}

async function subscriber (
  target: Target,
  subject: string
): Promise<{ ticks: Tick[], bad: number, nc: NatsConnection }> {
  const nc = await connect({ servers: target.natsUrl })
  cleanups.push(() => nc.close())
  const out = { ticks: [] as Tick[], bad: 0, nc }
  nc.subscribe(
    subject,
    { callback: (_e, m) => { const r = parseTick(m.data); if (r.ok) out.ticks.push(r.tick); else out.bad++ } }
  )
  await nc.flush()
  return out
}

async function tickfan (): Promise<Target> {
  const t = await startTickfan()
  cleanups.push(() => t.stop())
  return t
}

describe.each<Venue>(['binance', 'coinbase', 'kraken'])('%s venue -> handler -> broker -> subscriber', (venue) => {
  it('delivers canonical quotes and trades for every instrument', async () => {
    const target = await tickfan()
    const sub = await subscriber(target, `*.${venue}.>`)
    await pipeline(venue, target)
    await eventually(() => new Set(sub.ticks.filter((t) => t.type === 'quote').map((t) => t.symbol)).size === 2 && sub.ticks.some((t) => t.type === 'trade'), 5000, 'quotes and a trade')
    expect(sub.bad).toBe(0)
    const quote = sub.ticks.find((t) => t.type === 'quote') as QuoteTick
    expect(quote).toMatchObject({ v: 1, venue })
    expect(quote.bid).toBeLessThan(quote.ask)
    expect(quote.pubTime).toBeGreaterThanOrEqual(quote.recvTime)
    // seq is strictly increasing per subject
    const bySubject = new Map<string, number>()
    for (const t of sub.ticks) {
      const key = `${t.type}.${t.symbol}`
      expect(t.seq).toBeGreaterThan(bySubject.get(key) ?? 0)
      bySubject.set(key, t.seq)
    }
  })
})

describe('bad venue input', () => {
  it('is rejected, counted per reason and never published, and the handler keeps running', async () => {
    const target = await tickfan()
    const sub = await subscriber(target, 'quote.binance.>')
    const { venueServer, handler } = await pipeline('binance', target)
    await eventually(() => sub.ticks.length > 0, 5000, 'first quotes')
    const bad = [
      'not json at all',
      '{"stream":"btcusd@bookTicker","data":{"u":1,"s":"BTCUSD","b":"1.00","B":"1","a":"1.01"}}',
      '{"stream":"btcusd@bookTicker","data":{"u":99999999,"s":"BTCUSD","b":"abc","B":"1","a":"1.01","A":"1"}}',
      '{"stream":"btcusd@bookTicker","data":{"u":99999999,"s":"BTCUSD","b":"-5","B":"1","a":"1.01","A":"1"}}',
      '{"stream":"btcusd@bookTicker","data":{"u":99999999,"s":"BTCUSD","b":"9.00","B":"1","a":"1.01","A":"1"}}',
      '{"stream":"foousd@bookTicker","data":{"u":99999999,"s":"FOOUSD","b":"1.00","B":"1","a":"1.01","A":"1"}}',
      '{"stream":"btcusd@bookTicker","data":{"u":0,"s":"BTCUSD","b":"1.00","B":"1","a":"1.01","A":"1"}}'
    ]
    for (const b of bad) venueServer.injectRaw(b)
    await eventually(() => handler.stats.rejected >= bad.length, 3000, 'all rejects counted')
    expect(handler.stats.rejects).toEqual({
      not_json: 1,
      missing_field: 1,
      bad_number: 2,
      crossed_book: 1,
      unknown_symbol: 1,
      sequence_regression: 1
    })
    const before = sub.ticks.length
    await eventually(() => sub.ticks.length > before + 10, 5000, 'ticks keep flowing')
    expect(sub.ticks.every((t) => t.type === 'quote' && t.bid < t.ask && t.bid > 1000)).toBe(true)
    expect(sub.bad).toBe(0)
  })
})

describe('venue faults', () => {
  it('reconnects and resubscribes after the venue restarts', async () => {
    const target = await tickfan()
    const sub = await subscriber(target, 'quote.coinbase.>')
    const venueServer = await startVenueServer({ venue: 'coinbase', instruments, ratePerSec: 500, seed: 1, bursts: null })
    const port = venueServer.port
    const pub = await connect({ servers: target.natsUrl })
    cleanups.push(() => pub.close())
    const handler = new FeedHandler({ venue: 'coinbase', url: venueServer.url, instruments, publisher: natsTickPublisher(pub), republishMs: 0, initialBackoffMs: 50, maxBackoffMs: 200 })
    handler.start()
    cleanups.push(() => handler.stop())
    await eventually(() => sub.ticks.length > 5, 5000, 'ticks before the restart')
    await venueServer.close()
    await eventually(() => !handler.stats.connected, 3000, 'handler to see the venue go')
    const restarted = await startVenueServer({ venue: 'coinbase', instruments, ratePerSec: 500, seed: 2, bursts: null, port })
    cleanups.push(() => restarted.close())
    const before = sub.ticks.length
    await eventually(() => handler.stats.connects >= 2 && sub.ticks.length > before + 5, 8000, 'ticks after the restart')
    expect(handler.stats.rejects).toEqual({}) // the new connection's sequence_num starts again: not a regression
  })

  it('detects a stalled venue and reconnects', async () => {
    const target = await tickfan()
    const { venueServer, handler } = await pipeline('kraken', target, { stallMs: 300 })
    venueServer.stall()
    await eventually(() => handler.stats.stalls >= 1, 3000, 'stall detected')
    venueServer.resume()
    await eventually(() => handler.stats.connects >= 2 && handler.stats.connected, 5000, 'reconnected')
  })

  it('re-publishes the last value of a quiet instrument with the same seq (idempotent heartbeat)', async () => {
    const target = await tickfan()
    const sub = await subscriber(target, 'quote.binance.BTC-USD')
    const { venueServer } = await pipeline('binance', target, { republishMs: 200, stallMs: 60_000 })
    await eventually(() => sub.ticks.length > 0, 5000, 'a first quote')
    venueServer.stall()
    await delay(100)
    const last = sub.ticks[sub.ticks.length - 1] as QuoteTick
    await eventually(() => sub.ticks.some((t) => (t as QuoteTick).republish === true && t.seq === last.seq), 3000, 'a re-publish of the last value')
    const again = sub.ticks.find((t) => (t as QuoteTick).republish === true) as QuoteTick
    expect({
      ...again,
      pubTime: 0,
      pubMono: 0,
      republish: undefined
    }).toEqual({ ...last, pubTime: 0, pubMono: 0, republish: undefined })
  })
})

describe('record and replay', () => {
  it('records the normalised stream and replays it in order, at full speed or paced', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-rec-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'rec.jsonl')
    const recorder = new TickRecorder(file)
    const target = await tickfan()
    const { handler } = await pipeline('kraken', target, { recorder })
    await eventually(() => recorder.records >= 300, 5000, 'records')
    await handler.stop()
    await recorder.close()
    const original: Array<{ t: number, tick: Tick }> = []
    for await (const r of readRecording(file)) original.push(r)
    const replayed: Tick[] = []
    const full = await replay({ path: file, speed: Infinity, publish: (_s, t) => replayed.push(t) })
    expect(full.replayed).toBe(recorder.records)
    expect(replayed).toEqual(original.map((r) => r.tick)) // same ticks, same order
    const spanMs = (original.at(-1)?.t ?? 0) - (original[0]?.t ?? 0)
    expect(spanMs).toBeGreaterThan(200)
    const paced = await replay({ path: file, speed: 4, publish: () => {} })
    expect(paced.seconds * 1000).toBeGreaterThanOrEqual(spanMs / 4 - 20) // timers never fire early
  })

  it('names the line of a malformed recording', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-rec-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'bad.jsonl')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, '{"t":1,"subject":"quote.x.Y","tick":{"v":1}}\n')
    await expect(replay({ path: file, speed: Infinity, publish: () => {} })).rejects.toThrow(/bad.jsonl:1: not a recorded tick/)
  })
})

describe('publishing to a real nats-server', () => {
  it('works unchanged: the same handler publishes to nats-server and a subscriber receives', async () => {
    const target = await startReference()
    cleanups.push(() => target.stop())
    const sub = await subscriber(target, 'quote.>')
    await pipeline('binance', target)
    await eventually(() => sub.ticks.length > 10, 5000, 'ticks through nats-server')
    expect(sub.bad).toBe(0)
  })

  it('sends each tick\'s seq in the Tickfan-Seq header, as the wire carries it', async () => {
    const target = await startReference()
    cleanups.push(() => target.stop())
    const nc = await connect({ servers: target.natsUrl })
    cleanups.push(() => nc.close())
    const seen: Array<{ header: string, seq: number, keys: string[] }> = []
    nc.subscribe('quote.>', {
      callback: (_e, m) => {
        const r = parseTick(m.data)
        if (r.ok) seen.push({ header: m.headers?.get(SEQUENCE_HEADER) ?? '', seq: r.tick.seq, keys: m.headers?.keys() ?? [] })
      }
    })
    await nc.flush()
    await pipeline('kraken', target)
    await eventually(() => seen.length > 20, 5000, 'ticks with headers')
    for (const s of seen) {
      expect(s.header).toBe(String(s.seq))
      expect(s.keys).toEqual([SEQUENCE_HEADER])
    }
  })
})
