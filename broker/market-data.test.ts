/**
 * What tickfan adds to NATS for market data, over real sockets with the official client:
 * snapshot on subscribe, sequence ordering of last values, conflation for a subscriber that
 * stops reading, slow-consumer limits that fail fast with a stated reason, and monitoring.
 */
import net from 'node:net'
import v8 from 'node:v8'
import { connect, headers, wsconnect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Client } from './client.ts'
import { CONNZ_MAX_LIMIT, CONNZ_MAX_SUBSCRIPTIONS_LISTED, LVC_DEFAULT_LIMIT, LVC_MAX_LIMIT } from './monitor.ts'
import type { BrokerOptions } from './options.ts'
import { decodeFrames, headerValue } from './test-support/frames.ts'
import { RawClient } from './test-support/raw-client.ts'
import { delay, ensureWebSocketGlobal, eventually, startTickfan, type Target } from './test-support/targets.ts'
import { CONFLATED_HEADER, SEQUENCE_HEADER } from '../lib/headers.ts'

let target: Target | null = null
const connections: NatsConnection[] = []
const raws: RawClient[] = []

async function broker (options: Partial<BrokerOptions> = {}): Promise<Target> {
  target = await startTickfan(options)
  return target
}
async function client (t: Target, opts: Record<string, unknown> = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: t.natsUrl, ...opts })
  connections.push(nc)
  return nc
}
async function raw (t: Target): Promise<RawClient> {
  const r = await RawClient.connect(t.port)
  raws.push(r)
  return r
}
function serverClient (t: Target, name: string): Client {
  const found = [...(t.broker?.router.clients.values() ?? [])].find((c) => c.options.name === name)
  if (found === undefined) throw new Error(`no connection named ${name}`)
  return found
}
/** A raw client subscribed to `subject` that then stops reading at the TCP level. */
async function stalledSubscriber (t: Target, subject: string, headers = false): Promise<RawClient> {
  const stalled = await raw(t)
  await stalled.handshake({ verbose: false, pedantic: false, headers, name: 'stalled' })
  stalled.send(`SUB ${subject} 1\r\n`)
  await stalled.roundTrip()
  stalled.socket.pause()
  return stalled
}
/** Publishes 500-byte messages on `subject` in batches until `server` is conflating. */
async function publishUntilConflating (pub: NatsConnection, server: Client, subject: string): Promise<void> {
  const payload = 'x'.repeat(500)
  while (!server.outbox.conflating) {
    for (let k = 0; k < 500; k++) pub.publish(subject, payload)
    await pub.flush()
  }
}
function seqHeaders (seq: number): ReturnType<typeof headers> {
  const h = headers()
  h.set(SEQUENCE_HEADER, String(seq))
  return h
}
async function json (t: Target, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.httpUrl}${path}`)
  return await res.json() as Record<string, unknown>
}

afterEach(async () => {
  for (const r of raws.splice(0)) r.close()
  await Promise.all(connections.splice(0).map((nc) => nc.close().catch(() => {})))
  await target?.stop()
  target = null
})

describe('last-value cache and snapshot on subscribe', () => {
  it('gives a new subscriber the newest value of every matching subject, then live updates', async () => {
    const t = await broker()
    const pub = await client(t)
    pub.publish('quote.binance.BTC-USD', 'b1')
    pub.publish('quote.binance.BTC-USD', 'b2')
    pub.publish('quote.kraken.BTC-USD', 'k1')
    pub.publish('quote.kraken.ETH-USD', 'e1')
    pub.publish('trade.kraken.BTC-USD', 't1')
    await pub.flush()
    const nc = await client(t)
    const sub = nc.subscribe('quote.*.BTC-USD')
    const got: string[] = []
    const reading = (async () => { for await (const m of sub) { got.push(`${m.subject}=${m.string()}`); if (got.length === 3) break } })()
    await nc.flush()
    pub.publish('quote.kraken.BTC-USD', 'k2')
    await reading
    expect(got).toEqual(['quote.binance.BTC-USD=b2', 'quote.kraken.BTC-USD=k1', 'quote.kraken.BTC-USD=k2'])
  })

  it('does not cache trades or plain subjects', async () => {
    const t = await broker()
    const pub = await client(t)
    pub.publish('trade.x.BTC-USD', 't')
    pub.publish('news.x', 'n')
    await pub.flush()
    const body = await json(t, '/lvc?subject=>')
    expect(body.count).toBe(0)
  })

  it('leaves no gap and no duplicate between the snapshot and live updates', async () => {
    const t = await broker()
    const pub = await client(t)
    const total = 20_000
    let published = 0
    const publishing = (async () => {
      while (published < total) {
        for (let k = 0; k < 200; k++) { published++; pub.publish('quote.gap.X', String(published), { headers: seqHeaders(published) }) }
        await pub.flush()
      }
    })()
    await eventually(() => published > 2000, 5000, 'publishing under way')
    const nc = await client(t)
    const seen: number[] = []
    const sub: Subscription = nc.subscribe('quote.gap.>')
    for await (const m of sub) {
      seen.push(Number(m.string()))
      if (seen[seen.length - 1] === total) break
    }
    await publishing
    expect(seen[0]).toBeGreaterThan(1)
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe((seen[i - 1] as number) + 1)
  })

  it('drops and counts a value whose sequence is older than the cached one', async () => {
    const t = await broker()
    const pub = await client(t)
    const nc = await client(t)
    const sub = nc.subscribe('quote.seq.X')
    await nc.flush()
    pub.publish('quote.seq.X', 'five', { headers: seqHeaders(5) })
    pub.publish('quote.seq.X', 'three', { headers: seqHeaders(3) })
    pub.publish('quote.seq.X', 'six', { headers: seqHeaders(6) })
    await pub.flush()
    const got: string[] = []
    for await (const m of sub) { got.push(m.string()); if (got.length === 2) break }
    expect(got).toEqual(['five', 'six'])
    const varz = await json(t, '/varz')
    expect((varz.tickfan as Record<string, unknown>).older_dropped).toBe(1)
    const lvc = await json(t, '/lvc?subject=quote.seq.X')
    expect((lvc.values as Array<Record<string, unknown>>)[0]).toMatchObject({ subject: 'quote.seq.X', sequence: 6, payload: 'six' })
  })
})

describe('a subscriber that stops reading', () => {
  it('is conflated to the newest value per subject with bounded memory, gets the newest values after it resumes, and does not slow anyone else', async () => {
    const highWaterBytes = 64 * 1024
    const t = await broker({ highWaterBytes, maxStaleMs: 60_000, maxBlockedMs: 60_000 })
    const subjects = Array.from({ length: 20 }, (_, i) => `quote.stall.S${i}`)
    const stalled = await stalledSubscriber(t, 'quote.stall.>', true)

    const fast = await client(t)
    let fastCount = 0
    let fastSkipped = 0
    const fastSub = fast.subscribe('quote.stall.>')
    // A fast reader can still be momentarily behind a burst: then it too gets the newest values
    // and is told how many it skipped. Nothing is silently lost.
    void (async () => {
      for await (const m of fastSub) {
        fastCount++
        fastSkipped += Number(m.headers?.get(CONFLATED_HEADER) || 0)
      }
    })()
    await fast.flush()

    const pub = await client(t)
    const payload = 'x'.repeat(500)
    const last = new Map<string, string>()
    let published = 0
    let maxPendingWhileConflating = 0
    const server = serverClient(t, 'stalled')
    const publishBatch = async (): Promise<void> => {
      for (let k = 0; k < 500; k++) {
        const subject = subjects[published % subjects.length] as string
        const body = `${published}:${payload}`
        pub.publish(subject, body)
        last.set(subject, String(published))
        published++
      }
      await pub.flush()
      if (server.outbox.conflating) maxPendingWhileConflating = Math.max(
        maxPendingWhileConflating,
        server.outbox.pendingBytes
      )
    }
    while (!server.outbox.conflating) {
      await publishBatch()
      if (published > 400_000) throw new Error('the stalled connection never started conflating')
    }
    for (let i = 0; i < 40; i++) await publishBatch() // 20,000 more while it is stalled

    // bounded, whatever was published: one pending message per subject, plus at most the one
    // flush turn that was not yet written when conflation began (capped at the high-water mark)
    const perMessage = 600
    expect(maxPendingWhileConflating).toBeLessThanOrEqual(subjects.length * perMessage + highWaterBytes)
    expect(server.writer.conflated).toBeGreaterThan(10_000)
    // Counted by cause in /varz and /metrics (which mark was passed depends on timing).
    const starts = ((await json(t, '/varz')).tickfan as { conflation_starts: Record<string, number> }).conflation_starts
    expect(Object.keys(starts).sort()).toEqual(['ack_wait', 'socket_buffer', 'window'])
    expect(Object.values(starts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1)
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    const counted = Object.keys(starts).map((cause) =>
      Number(new RegExp(`^tickfan_conflation_starts_total\\{cause="${cause}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]))
    expect(counted.every((n) => Number.isInteger(n))).toBe(true)
    expect(counted.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1)
    // the fast subscriber got every message, or was told it skipped it for a newer value (how
    // much a starved test process skips is a speed question: bench:broker measures isolation)
    await eventually(() => fastCount + fastSkipped === published, 10_000, 'fast subscriber to account for everything')

    stalled.socket.resume()
    const lastFrameOf = (frames: ReturnType<typeof decodeFrames>, subject: string): string | undefined =>
      frames.filter((f) => f.subject === subject).at(-1)?.payload?.split(':')[0]
    await eventually(() => {
      const frames = decodeFrames(stalled.afterInfo)
      return subjects.every((s) => lastFrameOf(frames, s) === last.get(s))
    }, 10_000, 'the stalled subscriber to receive the newest value of every subject')
    const frames = decodeFrames(stalled.afterInfo)
    const skipped = frames.reduce((n, f) => n + Number(headerValue(f, CONFLATED_HEADER) ?? 0), 0)
    expect(skipped).toBe(server.writer.conflated)
    expect(frames.filter((f) => f.op === 'MSG' || f.op === 'HMSG').length + skipped).toBe(published)
  })

  it('gets every trade held while it was conflating, in order and each with its own payload, once it reads again', async () => {
    const t = await broker({ highWaterBytes: 16 * 1024, maxPendingEventBytes: 64 * 1024 * 1024 })
    const stalled = await stalledSubscriber(t, 'trade.>')
    const pub = await client(t)
    const server = serverClient(t, 'stalled')
    const payload = 'x'.repeat(500)
    let sent = 0
    while (!server.outbox.conflating) {
      for (let k = 0; k < 500; k++) pub.publish(`trade.x.S${sent % 7}`, `${sent++}:${payload}`)
      await pub.flush()
    }
    for (let k = 0; k < 2000; k++) pub.publish(`trade.x.S${sent % 7}`, `${sent++}:${payload}`) // held, each a publish of its own
    await pub.flush()
    expect(server.outbox.heldEventBytes).toBeGreaterThan(0)
    stalled.socket.resume()
    const frames = (): ReturnType<typeof decodeFrames> => decodeFrames(stalled.afterInfo).filter((f) => f.op === 'MSG')
    await eventually(() => frames().length === sent, 10_000, `all ${sent} trades to arrive`)
    frames().forEach((f, i) => {
      expect(f.payload?.split(':')[0]).toBe(String(i))
      expect(f.subject).toBe(`trade.x.S${i % 7}`)
    })
  })

  it('is closed as a slow consumer with a stated -ERR when undelivered trades pass the byte limit', async () => {
    const t = await broker({ highWaterBytes: 16 * 1024, maxPendingEventBytes: 256 * 1024 })
    const stalled = await stalledSubscriber(t, 'trade.>')
    const pub = await client(t)
    const payload = 'x'.repeat(500)
    const router = t.broker?.router
    let sent = 0
    while ((router?.stats.slowConsumers ?? 0) === 0) {
      for (let k = 0; k < 500; k++) pub.publish('trade.x.BTC-USD', `${sent++}:${payload}`)
      await pub.flush()
      if (sent > 400_000) throw new Error('never closed')
    }
    stalled.socket.resume()
    await stalled.closed
    expect(stalled.text.endsWith("-ERR 'Slow Consumer: undelivered event messages exceeded the byte limit'\r\n")).toBe(true)
    // every trade before the cut arrived in order: none conflated
    const payloads = decodeFrames(stalled.afterInfo).filter((f) => f.op === 'MSG').map((f) => Number(f.payload?.split(':')[0]))
    payloads.forEach((p, i) => expect(p).toBe(i))
    const varz = await json(t, '/varz')
    expect(varz.slow_consumers).toBe(1)
    expect((varz.tickfan as Record<string, Record<string, number>>).slow_consumers_by_reason).toEqual({ 'slow consumer (event bytes)': 1 })
  })

  it('is closed with a stated -ERR when last values of ever new subjects pass its last-value limit; on a fixed set of subjects it is only conflated', async () => {
    const t = await broker({
      highWaterBytes: 16 * 1024, maxPendingLastValueBytes: 256 * 1024, maxStaleMs: 60_000, maxBlockedMs: 60_000
    })
    const sprawling = await stalledSubscriber(t, 'quote.>')
    const fixed = await raw(t)
    await fixed.handshake({ verbose: false, pedantic: false, headers: false, name: 'fixed' })
    fixed.send('SUB quote.fixed.* 1\r\n')
    await fixed.roundTrip()
    fixed.socket.pause()
    const pub = await client(t)
    const [sprawlingServer, fixedServer] = [serverClient(t, 'stalled'), serverClient(t, 'fixed')]
    await publishUntilConflating(pub, fixedServer, 'quote.fixed.0') // both fall behind
    await publishUntilConflating(pub, sprawlingServer, 'quote.busy')
    const router = t.broker?.router
    let sent = 0
    while ((router?.stats.slowConsumers ?? 0) === 0) {
      for (let k = 0; k < 500; k++) {
        pub.publish(`quote.new.S${sent++}`, 'x'.repeat(100))
        pub.publish(`quote.fixed.${k % 10}`, String(sent))
      }
      await pub.flush()
      if (sent > 100_000) throw new Error('never closed')
    }
    sprawling.socket.resume()
    await sprawling.closed
    expect(sprawling.text.endsWith("-ERR 'Slow Consumer: undelivered last values exceeded the byte limit'\r\n")).toBe(true)
    expect(sprawlingServer.closeReason).toBe('slow consumer (last-value bytes)')
    // 256 KiB of entries of about 250 B each: cut after about a thousand new subjects, not at the end of a long run
    expect(sent).toBeLessThan(20_000)
    // The one on ten subjects holds one value of each, however many came: conflated, never cut.
    expect(fixedServer.isClosed).toBe(false)
    expect(fixedServer.outbox.conflated).toBeGreaterThan(0)
    fixed.socket.resume()
    await eventually(() => !fixedServer.outbox.conflating, 3000, 'the fixed-subject subscriber to catch up')
    const varz = await json(t, '/varz')
    expect((varz.tickfan as Record<string, Record<string, number>>).slow_consumers_by_reason).toEqual({ 'slow consumer (last-value bytes)': 1 })
  })

  it('is closed when its oldest undelivered update is older than maxStaleMs, and the reason is shown', async () => {
    const t = await broker({ highWaterBytes: 16 * 1024, maxStaleMs: 300, maxBlockedMs: 60_000 })
    await stalledSubscriber(t, 'quote.>')
    const pub = await client(t)
    const server = serverClient(t, 'stalled')
    await publishUntilConflating(pub, server, 'quote.busy')
    const payload = 'x'.repeat(500)
    pub.publish('quote.quiet', 'once') // then only the busy subject moves
    const started = Date.now()
    while (!server.isClosed && Date.now() - started < 5000) {
      pub.publish('quote.busy', payload)
      await pub.flush()
      await delay(5)
    }
    expect(server.closeReason).toBe('slow consumer (stale)')
    const closed = await json(t, '/connz?state=closed')
    expect((closed.connections as Array<Record<string, unknown>>)[0]).toMatchObject({ name: 'stalled', reason: 'slow consumer (stale)' })
  })

  it('is closed when its socket stays blocked past maxBlockedMs', async () => {
    const t = await broker({ highWaterBytes: 16 * 1024, maxStaleMs: 60_000, maxBlockedMs: 300 })
    await stalledSubscriber(t, 'quote.>')
    const pub = await client(t)
    const server = serverClient(t, 'stalled')
    await publishUntilConflating(pub, server, 'quote.busy')
    await eventually(() => server.isClosed, 3000, 'the blocked connection to be closed')
    expect(server.closeReason).toBe('slow consumer (blocked)')
  })
})

describe('large messages', () => {
  it('collects their dead buffers once they pass half the heap or --large-message-gc-bytes, and counts the collections in /varz and /metrics', async () => {
    const t = await broker({ largeMessageGcBytes: 1024 * 1024 })
    const pub = await client(t)
    const small = 'x'.repeat(1000)
    for (let i = 0; i < 5000; i++) pub.publish(`quote.small.S${i % 50}`, small)
    await pub.flush()
    expect((await json(t, '/varz')).tickfan).toMatchObject({ large_message_collections: 0 })
    // The broker runs in this process: its heap is this heap, so publish past half of it.
    const payload = new Uint8Array(512 * 1024).fill(7)
    const messages = Math.ceil(2 * Math.max(1024 * 1024, v8.getHeapStatistics().used_heap_size / 2) / payload.length)
    for (let i = 0; i < messages; i++) {
      pub.publish(`quote.large.S${i % 8}`, payload)
      if (i % 8 === 7) await pub.flush()
    }
    await pub.flush()
    await eventually(async () => ((await json(t, '/varz')).tickfan as { large_message_collections: number }).large_message_collections > 0, 5000, 'a collection')
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^tickfan_large_message_collections_total [1-9]/m)
  })
})

describe('socket-write buffers', () => {
  it.each(['tcp', 'websocket'] as const)('are taken again from the pool once %s has written them, counted in /varz', async (kind) => {
    const t = await broker()
    if (kind === 'websocket') await ensureWebSocketGlobal()
    const sub = kind === 'tcp' ? await client(t) : await wsconnect({ servers: t.wsUrl })
    if (kind === 'websocket') connections.push(sub)
    const received = sub.subscribe('feed.>')
    await sub.flush()
    const pub = await client(t)
    const counts = async (): Promise<{ allocated: number, reused: number }> =>
      ((await json(t, '/varz')).tickfan as { write_buffers: { allocated: number, reused: number } }).write_buffers
    const before = await counts()
    const payload = 'y'.repeat(2000) // a turn's write of a few of these is past the pooled size
    const messages = 3000
    let got = 0
    const done = (async () => {
      for await (const m of received) if (m.data.length === payload.length && ++got === messages) break
    })()
    for (let i = 0; i < messages; i++) {
      pub.publish(`feed.S${i % 10}`, payload)
      if (i % 20 === 19) await pub.flush()
    }
    await done
    const after = await counts()
    // Taken back after each write, a few buffers serve the whole stream; never taken back, each
    // turn's write would need a new one (about 150 here).
    const reused = after.reused - before.reused
    expect(reused).toBeGreaterThan(0)
    expect(reused).toBeGreaterThan(4 * (after.allocated - before.allocated))
  })
})

describe('shared frames', () => {
  it.each(['tcp', 'websocket'] as const)('reach two %s subscribers with one sid intact, from arena slabs that serve again, counted in /varz', async (kind) => {
    const t = await broker()
    if (kind === 'websocket') await ensureWebSocketGlobal()
    const subs = []
    for (let i = 0; i < 2; i++) {
      const nc = kind === 'tcp' ? await client(t) : await wsconnect({ servers: t.wsUrl })
      if (kind === 'websocket') connections.push(nc)
      subs.push(nc.subscribe('frames.>')) // sid 1 on each connection, as the official clients number them
      await nc.flush()
    }
    const pub = await client(t)
    const counts = async (): Promise<{ allocated: number, reused: number }> =>
      ((await json(t, '/varz')).tickfan as { frame_slabs: { allocated: number, reused: number } }).frame_slabs
    const before = await counts()
    const messages = 3000
    const payloadOf = (i: number): string => `${i}:`.padEnd(2000, String.fromCharCode(97 + (i % 26)))
    // Every message, in order and byte for byte: a slab written over while a socket still wrote it would show here.
    const received = subs.map(async (sub) => {
      let next = 0
      for await (const m of sub) {
        expect(m.subject).toBe(`frames.S${next % 10}`)
        expect(m.string()).toBe(payloadOf(next))
        if (++next === messages) break
      }
      return next
    })
    for (let i = 0; i < messages; i++) {
      pub.publish(`frames.S${i % 10}`, payloadOf(i))
      if (i % 20 === 19) await pub.flush()
    }
    expect(await Promise.all(received)).toEqual([messages, messages])
    const after = await counts()
    // About 6 MB of frames fill some 23 slabs of 256 KiB: served again, a few slabs serve them all.
    expect(after.reused - before.reused).toBeGreaterThan(10)
    expect(after.allocated - before.allocated).toBeLessThan(after.reused - before.reused)
  })
})

describe('bad input', () => {
  it.each([
    ['bad CONNECT JSON', 'CONNECT {"verbose":\r\n', "-ERR 'Invalid CONNECT JSON'\r\n"],
    ['a non-numeric size', 'CONNECT {"verbose":false}\r\nPUB foo x\r\nhi\r\n', "-ERR 'Bad or Missing Size'\r\n"],
    ['HPUB without negotiated headers', 'CONNECT {"verbose":false,"headers":false}\r\nHPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n', "-ERR 'Headers Not Negotiated'\r\n"]
  ])('closes on %s with a -ERR that names it, and counts it', async (_name, input, expected) => {
    const t = await broker()
    const other = await client(t)
    const bad = await raw(t)
    bad.send(input)
    await bad.closed
    expect(bad.afterInfo).toBe(expected)
    expect(await other.rtt()).toBeGreaterThanOrEqual(0) // nobody else disturbed
    const varz = await json(t, '/varz')
    expect(Object.values((varz.tickfan as Record<string, Record<string, number>>).protocol_errors ?? {})).toEqual([1])
  })

  it('closes a client that never sends CONNECT', async () => {
    const t = await broker({ connectTimeoutMs: 200 })
    const silent = await raw(t)
    await silent.closed
    expect(silent.afterInfo).toBe("-ERR 'Authentication Timeout'\r\n")
  })

  it('refuses a subscription flood past the per-connection limit and keeps the connection', async () => {
    const t = await broker({ maxSubscriptionsPerConnection: 3 })
    const r = await raw(t)
    await r.handshake()
    r.send('SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB d 4\r\n')
    await r.roundTrip()
    expect(r.afterInfo).toContain("-ERR 'Maximum Subscriptions Exceeded'\r\nPONG\r\n")
    expect(r.isClosed).toBe(false)
  })

  it('slows a publisher past its rate limit until the second ends, loses nothing, and nobody else is slowed', async () => {
    const t = await broker({ maxInMsgsPerSec: 50 })
    const watcher = await client(t)
    const got: Array<{ subject: string, at: number }> = []
    watcher.subscribe('flood.>', { callback: (_e, m) => { got.push({ subject: m.subject, at: Date.now() }) } })
    await watcher.flush()
    const flooder = await raw(t)
    await flooder.handshake({ verbose: false, pedantic: false })
    const start = Date.now()
    flooder.send('PUB flood.x 1\r\nx\r\n'.repeat(60)) // over the limit: its reads pause
    await delay(50)
    flooder.send('PUB flood.y 1\r\ny\r\n'.repeat(40)) // waits in its socket until the second ends
    const other = await client(t)
    other.publish('flood.other', 'z')
    await other.flush()
    await eventually(() => got.some((g) => g.subject === 'flood.other'), 2000, 'the other publisher\'s message')
    expect(got.filter((g) => g.subject === 'flood.y')).toHaveLength(0)
    await eventually(() => got.filter((g) => g.subject === 'flood.y').length === 40, 5000, 'the rest after the pause')
    expect(got.filter((g) => g.subject === 'flood.x')).toHaveLength(60) // what one read held goes through
    expect(Math.min(...got.filter((g) => g.subject === 'flood.y').map((g) => g.at)) - start).toBeGreaterThanOrEqual(900)
    expect(flooder.afterInfo).not.toContain('-ERR')
    expect(flooder.isClosed).toBe(false)
    const connz = await json(t, '/connz')
    const row = (connz.connections as Array<Record<string, number>>).find((c) => c.in_msgs === 100)
    expect(row?.rate_limit_pauses).toBe(1)
  })

  it('paces a connection past its SUBs and UNSUBs per second: its reads pause, nothing is refused, nobody else waits', async () => {
    const t = await broker({ maxSubscriptionOpsPerSec: 50 })
    const churner = await raw(t)
    await churner.handshake({ verbose: false, pedantic: false })
    const pongs = (text: string): number => text.split('PONG\r\n').length - 1
    const pongsBefore = pongs(churner.text)
    const start = Date.now()
    churner.send('SUB churn.a 1\r\nUNSUB 1\r\n'.repeat(30)) // 60 operations: over the limit
    await delay(50)
    churner.send('SUB churn.b 2\r\nPING\r\n') // waits in its socket until the second ends
    const other = await client(t)
    const sub = other.subscribe('other.x', { max: 1 })
    await other.flush()
    other.publish('other.x', 'ok')
    for await (const m of sub) expect(m.string()).toBe('ok')
    expect(Date.now() - start).toBeLessThan(900) // the other client was not held up by the pause
    await churner.waitFor((text) => pongs(text) > pongsBefore, 5000)
    expect(Date.now() - start).toBeGreaterThanOrEqual(900)
    other.publish('churn.b', 'in force')
    await churner.waitFor(/MSG churn.b 2 8\r\nin force\r\n/)
    expect(churner.afterInfo).not.toContain('-ERR')
    const connz = await json(t, '/connz')
    expect((connz.connections as Array<Record<string, number>>).some((c) => c.rate_limit_pauses === 1)).toBe(true)
  })

  it('counts a SUB whose snapshot list is computed afresh as one operation per 10 subjects scanned, and holds the rest of its input past the limit', async () => {
    const t = await broker({ maxSubscriptionOpsPerSec: 1000 })
    const pub = await client(t)
    for (let i = 0; i < 2000; i++) pub.publish(`quote.scan.S${i}`, 'v')
    await pub.flush()
    const churner = await raw(t)
    await churner.handshake({ verbose: false, pedantic: false })
    const sids = (text: string): number => new Set([...text.matchAll(/MSG \S+ (\d+) /g)].map((m) => m[1])).size
    // Ten patterns that match every cached subject, each new, so each SUB's list is computed
    // afresh: 2,000 subjects scanned, 200 operations. The fifth SUB passes 1,000 a second.
    const patterns = ['quote.>', 'quote.*.*', 'quote.scan.*', '*.scan.*', '*.*.*', '>', 'quote.*.>', '*.>', '*.scan.>', 'quote.scan.>']
    const rounds = patterns.map((p, i) => `SUB ${p} ${i + 1}\r\nUNSUB ${i + 1}\r\n`)
    const pongs = (text: string): number => text.split('PONG\r\n').length - 1
    const pongsBefore = pongs(churner.text)
    const start = Date.now()
    churner.send(`${rounds.join('')}PING\r\n`)
    await delay(300)
    expect(sids(churner.afterInfo)).toBe(5) // five snapshots began; the rest of the input waits
    expect(pongs(churner.text)).toBe(pongsBefore)
    await churner.waitFor((text) => pongs(text) > pongsBefore, 5000) // the rest, in later seconds
    expect(Date.now() - start).toBeGreaterThanOrEqual(900)
    expect(churner.afterInfo).not.toContain('-ERR')
    const connz = await json(t, '/connz')
    expect((connz.connections as Array<Record<string, number>>).some((c) => (c.rate_limit_pauses ?? 0) >= 1)).toBe(true)
  })

  it('cuts off a client that floods PINGs and never reads its PONGs, before they pass the event limit', async () => {
    const t = await broker({ maxPendingEventBytes: 256 * 1024 })
    const flooder = await raw(t)
    await flooder.handshake({ verbose: false, pedantic: false, name: 'pinger' })
    const server = serverClient(t, 'pinger')
    flooder.socket.pause() // it never reads
    const pings = 'PING\r\n'.repeat(10_000)
    for (let i = 0; i < 100 && !server.isClosed; i++) {
      flooder.socket.write(pings)
      await delay(5)
    }
    await eventually(() => server.isClosed, 5000, 'the flooder to be cut off')
    expect(server.closeReason).toBe('slow consumer (event bytes)')
    expect(t.broker?.router.stats.slowConsumers).toBe(1)
    // Cut off, it goes on sending: past 64 KiB read after the close its socket is destroyed at
    // once, not read (and thrown away) for the whole 2 s the close allows a final -ERR.
    const socket = (server.transport as unknown as { socket: import('node:net').Socket }).socket
    for (let i = 0; i < 40 && !socket.destroyed; i++) {
      flooder.socket.write(pings)
      await delay(5)
    }
    await eventually(() => socket.destroyed, 1500, 'the closing socket to be destroyed')
  })

  it('cuts off, saying why, a WebSocket client that floods pings and never reads their pongs', async () => {
    const t = await broker()
    const url = new URL(t.wsUrl)
    const socket = net.connect(Number(url.port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`GET / HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    await new Promise((resolve) => socket.once('data', resolve)) // 101 Switching Protocols (and INFO)
    /** A client frame: masked, with a mask of zeros, so the payload goes as it is. */
    const frame = (opcode: number, payload: Buffer): Buffer =>
      Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload])
    socket.write(frame(0x2, Buffer.from('CONNECT {"verbose":false,"pedantic":false,"name":"ws-pinger"}\r\n')))
    await eventually(() => [...(t.broker?.router.clients.values() ?? [])].some((c) => c.options.name === 'ws-pinger'), 5000, 'its CONNECT')
    const server = serverClient(t, 'ws-pinger')
    socket.pause() // it never reads
    const pings = Buffer.concat(Array.from({ length: 4096 }, () => frame(0x9, Buffer.alloc(125, 0x70))))
    for (let i = 0; i < 200 && !server.isClosed; i++) {
      socket.write(pings)
      await delay(5)
    }
    await eventually(() => server.isClosed, 5000, 'the pinger to be cut off')
    expect(server.closeReason).toBe('slow consumer (websocket pongs)')
    socket.destroy()
  })

  it('answers every one of a burst of WebSocket pings from a client that reads', async () => {
    const t = await broker()
    const ws = new WebSocket(t.wsUrl)
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    let pongs = 0
    ws.on('pong', () => { pongs++ })
    for (let i = 0; i < 200; i++) ws.ping(String(i)) // more than MAX_PENDING_WEBSOCKET_PONGS at once
    await eventually(() => pongs === 200 || ws.readyState !== WebSocket.OPEN, 5000, 'every pong or a close')
    expect(pongs).toBe(200)
    expect(ws.readyState).toBe(WebSocket.OPEN)
    ws.close()
  })

  it('refuses connections past the limit with a -ERR', async () => {
    const t = await broker({ maxConnections: 1 })
    await client(t)
    const extra = await raw(t)
    await extra.closed
    expect(extra.afterInfo).toBe("-ERR 'maximum connections exceeded'\r\n")
    expect((await json(t, '/varz')).connections).toBe(1)
  })
})

describe('monitoring', () => {
  it('asks for credentials when configured (all but /healthz), and accepts a bcrypt-hashed password', async () => {
    const t = await broker({ monitoringAuth: { user: 'ops', password: bcrypt.hashSync('watch', 4) } })
    expect((await fetch(`${t.httpUrl}/healthz`)).status).toBe(200)
    const denied = await fetch(`${t.httpUrl}/varz`)
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toMatch(/Basic/)
    const wrong = await fetch(`${t.httpUrl}/varz`, { headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` } })
    expect(wrong.status).toBe(401)
    const ok = await fetch(`${t.httpUrl}/lvc`, { headers: { authorization: `Basic ${Buffer.from('ops:watch').toString('base64')}` } })
    expect(ok.status).toBe(200)
  })

  it('serves /healthz, /varz, /connz, /subsz, /metrics and /lvc', async () => {
    const t = await broker()
    const nc = await client(t, { name: 'watcher' })
    const sub = nc.subscribe('quote.>')
    void (async () => { for await (const _ of sub) { /* drain */ } })()
    await nc.flush()
    nc.publish('quote.m.BTC-USD', '{"bid":1}')
    await nc.flush()
    expect(await json(t, '/healthz')).toEqual({ status: 'ok' })
    const varz = await json(t, '/varz')
    expect(varz).toMatchObject({ connections: 1, in_msgs: 1, subscriptions: 1, max_payload: 1048576 })
    const connz = await json(t, '/connz?subs=1')
    expect((connz.connections as Array<Record<string, unknown>>)[0]).toMatchObject({ name: 'watcher', subscriptions_list: ['quote.>'] })
    expect(await json(t, '/subsz')).toMatchObject({ num_subscriptions: 1 })
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^tickfan_in_msgs_total 1$/m)
    expect(metrics).toMatch(/^tickfan_connections 1$/m)
    const lvc = await json(t, '/lvc?subject=quote.*.BTC-USD')
    expect(lvc).toMatchObject({ count: 1, values: [{ subject: 'quote.m.BTC-USD', payload: '{"bid":1}' }] })
    const bad = await fetch(`${t.httpUrl}/lvc?subject=quote..x`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: 'invalid subject "quote..x"' })
    expect((await fetch(`${t.httpUrl}/connz?sort=nonsense`)).status).toBe(400)
  })

  it('serves /lvc in pages: by limit and offset, and no more than LVC_PAGE_BYTES of values at once', async () => {
    const t = await broker()
    const nc = await client(t)
    for (let i = 0; i < 25; i++) nc.publish(`quote.page.S${String(i).padStart(2, '0')}`, `v${i}`)
    for (let i = 0; i < 3; i++) nc.publish(`quote.big.S${i}`, 'x'.repeat(600 * 1024))
    await nc.flush()
    // Follows next_offset to the end: every value once, in the order the subjects entered the cache.
    const seen: string[] = []
    let offset: number | null = 0
    while (offset !== null) {
      const page = await json(t, `/lvc?subject=quote.page.*&limit=10&offset=${offset}`)
      expect(page).toMatchObject({ subject: 'quote.page.*', count: 25, offset, limit: 10 })
      seen.push(...(page.values as Array<{ subject: string }>).map((v) => v.subject))
      offset = page.next_offset as number | null
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `quote.page.S${String(i).padStart(2, '0')}`))
    // Two values of 600 KiB pass the 1 MiB a page holds: one a page.
    const big = await json(t, '/lvc?subject=quote.big.*')
    expect(big).toMatchObject({ count: 3, limit: LVC_DEFAULT_LIMIT, next_offset: 1 })
    expect((big.values as unknown[]).length).toBe(1)
    for (const query of ['limit=0', `limit=${LVC_MAX_LIMIT + 1}`, 'limit=x', 'offset=-1']) {
      const res = await fetch(`${t.httpUrl}/lvc?subject=quote.>&${query}`)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: string }).error).toMatch(/^(limit|offset) must be/)
    }
  })

  it('lists no more than CONNZ_MAX_SUBSCRIPTIONS_LISTED subscriptions in one /connz?subs=1, and says whose list it cut', async () => {
    const t = await broker({ maxSubscriptionOpsPerSec: 0 })
    const each = Math.ceil(CONNZ_MAX_SUBSCRIPTIONS_LISTED * 0.6)
    for (const name of ['first', 'second']) {
      const r = await raw(t)
      await r.handshake({ verbose: false, pedantic: false, name })
      r.send(Array.from({ length: each }, (_, i) => `SUB ${name}.s${i} ${i + 1}\r\n`).join(''))
      await r.roundTrip()
    }
    const connz = await json(t, '/connz?subs=1')
    const [first, second] = connz.connections as Array<Record<string, unknown>>
    expect(first).toMatchObject({ name: 'first', subscriptions: each })
    expect(first?.subscriptions_list).toHaveLength(each)
    expect(first?.subscriptions_list_truncated).toBeUndefined()
    expect(second).toMatchObject({ name: 'second', subscriptions: each, subscriptions_list_truncated: true })
    expect(second?.subscriptions_list).toHaveLength(CONNZ_MAX_SUBSCRIPTIONS_LISTED - each)
    // Paged one connection at a time, each list is whole.
    const alone = await json(t, '/connz?subs=1&offset=1&limit=1')
    expect((alone.connections as Array<Record<string, unknown>>)[0]?.subscriptions_list).toHaveLength(each)
  })

  it('answers /connz with at most CONNZ_MAX_LIMIT connections, whatever limit asks, and pages to the rest', async () => {
    const t = await broker()
    const extra = 5
    for (let i = 0; i < CONNZ_MAX_LIMIT + extra; i++) await (await raw(t)).handshake()
    const first = await json(t, '/connz?limit=100000')
    expect(first).toMatchObject({ limit: CONNZ_MAX_LIMIT, num_connections: CONNZ_MAX_LIMIT, offset: 0 })
    expect((first.connections as unknown[]).length).toBe(CONNZ_MAX_LIMIT)
    const total = first.total as number
    expect(total).toBeGreaterThanOrEqual(CONNZ_MAX_LIMIT + extra)
    const rest = await json(t, `/connz?limit=100000&offset=${CONNZ_MAX_LIMIT}`)
    expect((rest.connections as unknown[]).length).toBe(total - CONNZ_MAX_LIMIT)
  }, 60_000)

  it('counts in /varz how often a published subject was found in the interned table', async () => {
    const t = await broker()
    const nc = await client(t)
    const table = async (): Promise<{ hits: number, misses: number }> =>
      ((await json(t, '/varz')).tickfan as { subject_table: { hits: number, misses: number } }).subject_table
    nc.publish('quote.intern.once', 'x')
    await nc.flush()
    const before = await table()
    for (let i = 0; i < 5; i++) nc.publish('quote.intern.once', 'x')
    nc.publish('quote.intern.new', 'x')
    await nc.flush()
    const after = await table()
    expect(after.hits - before.hits).toBe(5)
    expect(after.misses - before.misses).toBe(1)
  })

  it('shows that no subscriber is systematically served first', async () => {
    const t = await broker()
    const subs = await Promise.all(Array.from({ length: 8 }, (_, i) => client(t, { name: `s${i}` })))
    for (const nc of subs) {
      const s = nc.subscribe('quote.fair')
      void (async () => { for await (const _ of s) { /* drain */ } })()
      await nc.flush()
    }
    const pub = await client(t)
    for (let i = 0; i < 400; i++) { pub.publish('quote.fair', String(i)); await pub.flush() }
    await delay(100)
    const connz = await json(t, '/connz')
    const shares = (connz.connections as Array<{
      name: string,
      tickfan: { first_share: number, fanout_turns: number }
    }>)
      .filter((c) => c.name.startsWith('s')).map((c) => c.tickfan)
    expect(shares).toHaveLength(8)
    for (const s of shares) {
      expect(s.fanout_turns).toBeGreaterThan(100)
      expect(s.first_share).toBeGreaterThan(0.02) // 1/8 expected; connect order never decides it
    }
  })
})
