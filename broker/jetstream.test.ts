/**
 * The trade history read by the official JetStream client, side by side with a real
 * `nats-server -js` holding the same stream: the same client code runs against both and what
 * it sees is compared. Then what only tickfan promises: bounded consumers, idle removal, clear
 * errors for what it does not support.
 */
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream'
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HistoryStream, historyConfigsOf } from './history.ts'
import { JetStreamService } from './jetstream.ts'
import { DEFAULT_OPTIONS } from './options.ts'
import { startBrokerCommand } from './test-support/processes.ts'
import { delay, eventually, startReference, startTickfan, type Target } from './test-support/targets.ts'
import { jetStreamConfigOf } from './upstream.ts'

const TRADES = ['trade.binance.BTC-USD', 'trade.kraken.ETH-USD', 'trade.binance.ETH-USD']

interface Seen { subject: string, data: string, stream: number, delivery: number, pending: number }
function seen (m: JsMsg): Seen {
  const { streamSequence: stream, deliverySequence: delivery, pending } = m.info
  return { subject: m.subject, data: m.string(), stream, delivery, pending }
}

/** Everything the client code below sees of one server, for comparison. */
async function observe (t: Target): Promise<Record<string, unknown>> {
  const nc = await connect({ servers: t.natsUrl })
  try {
    const js = jetstream(nc)
    const jsm = await jetstreamManager(nc)
    const acks: unknown[] = []
    for (let i = 0; i < 12; i++) {
      const h = headers()
      h.set('Nats-Msg-Id', `id-${i}`)
      nc.publish(TRADES[i % 3] as string, `t${i}`, { headers: h })
    }
    const again = headers()
    again.set('Nats-Msg-Id', 'id-3')
    nc.publish('trade.binance.BTC-USD', 'repeated', { headers: again })
    const ack = await js.publish('trade.kraken.ETH-USD', 't12', { msgID: 'id-12' })
    const dup = await js.publish('trade.kraken.ETH-USD', 't12', { msgID: 'id-12' })
    acks.push({ seq: ack.seq, duplicate: ack.duplicate, stream: ack.stream })
    acks.push({ seq: dup.seq, duplicate: dup.duplicate })
    // An id of 60,000 bytes: tickfan remembers it by its digest (history.ts msgIdKey), and finds it again.
    const longId = 'L'.repeat(60_000)
    for (let i = 0; i < 2; i++) {
      const a = await js.publish('trade.kraken.ETH-USD', 't-long', { msgID: longId })
      acks.push({ seq: a.seq, duplicate: a.duplicate })
    }
    // Past 64 KiB of headers, neither stores it (JetStream error 10097).
    acks.push(await js.publish('trade.kraken.ETH-USD', 't-too-long', { msgID: 'L'.repeat(70_000) })
      .then((a) => ({ seq: a.seq }), (err: Error) => ({ refused: err.message })))
    await delay(50) // a start time clear of the messages before it, at the milliseconds a date carries
    const startedAt = new Date()
    await delay(50)
    nc.publish('trade.binance.BTC-USD', 't13')
    await nc.flush()

    const fetchAll = async (opts: Parameters<typeof js.consumers.get>[1], max = 50): Promise<Seen[]> => {
      const c = await js.consumers.get('trades', opts)
      const out: Seen[] = []
      for await (const m of await c.fetch({ max_messages: max, expires: 1000 })) out.push(seen(m))
      return out
    }
    const info = await jsm.streams.info('trades')
    const direct = await jsm.direct.getMessage('trades', { last_by_subj: 'trade.kraken.ETH-USD' })
    const bySeq = await jsm.direct.getMessage('trades', { seq: 2 })
    const errors: Record<string, unknown> = {}
    const errorOf = async (what: () => Promise<unknown>): Promise<unknown> => {
      try { await what(); return 'no error' } catch (err) {
        // JetStreamApiError: `status` is the HTTP-like code, `code` JetStream's error code.
        const { status, code, message } = err as { status?: number, code?: unknown, message: string }
        return { status, code, message }
      }
    }
    errors.streamNotFound = await errorOf(() => jsm.streams.info('nope'))
    errors.filterOutside = await errorOf(() => jsm.consumers.add('trades', { filter_subject: 'quote.>' }))
    errors.consumerNotFound = await errorOf(() => jsm.consumers.info('trades', 'nope'))
    errors.startSeqMissing = await errorOf(() => jsm.consumers.add('trades', { deliver_policy: DeliverPolicy.StartSequence }))
    errors.noMessage = await errorOf(async () => { if (await jsm.direct.getMessage('trades', { last_by_subj: 'trade.none' }) === null) throw new Error('null') })

    const newOnes = await js.consumers.get('trades', { deliver_policy: DeliverPolicy.New })
    const newFetch = await newOnes.fetch({ max_messages: 2, expires: 2000 })
    await delay(50)
    nc.publish('trade.kraken.ETH-USD', 't14')
    nc.publish('trade.binance.ETH-USD', 't15')
    const news: Seen[] = []
    for await (const m of newFetch) news.push(seen(m))

    return {
      acks,
      state: {
        messages: info.state.messages,
        first: info.state.first_seq,
        last: info.state.last_seq,
        subjects: info.config.subjects
      },
      all: await fetchAll({ deliver_policy: DeliverPolicy.All }),
      filtered: await fetchAll({ filter_subjects: 'trade.binance.>', deliver_policy: DeliverPolicy.All }),
      lastPerSubject: await fetchAll({ deliver_policy: DeliverPolicy.LastPerSubject }),
      last: await fetchAll({ filter_subjects: 'trade.kraken.>', deliver_policy: DeliverPolicy.Last }),
      fromSeq: await fetchAll({ opt_start_seq: 10 }),
      fromTime: await fetchAll({ opt_start_time: startedAt.toISOString() }),
      batchOfTwo: await fetchAll({ deliver_policy: DeliverPolicy.All }, 2),
      news,
      direct: direct === null ? null : { subject: direct.subject, seq: direct.seq, data: direct.string() },
      bySeq: bySeq === null ? null : { subject: bySeq.subject, seq: bySeq.seq, data: bySeq.string() },
      errors
    }
  } finally {
    await nc.close()
  }
}

describe('the trade history, read by @nats-io/jetstream, against tickfan and nats-server -js', () => {
  const seenBy: Record<string, Record<string, unknown>> = {}

  beforeAll(async () => {
    const reference = await startReference({ jetstream: true })
    const tickfan = await startTickfan()
    try {
      const nc = await connect({ servers: reference.natsUrl })
      const jsm = await jetstreamManager(nc)
      // The stream tickfan's default history is (trades on trade.>, its limits), in memory.
      for (const s of historyConfigsOf(DEFAULT_OPTIONS)) {
        await jsm.streams.add(jetStreamConfigOf(s, StorageType.Memory, 1))
      }
      await nc.close()
      seenBy['nats-server'] = await observe(reference)
      seenBy.tickfan = await observe(tickfan)
    } finally {
      await tickfan.stop()
      await reference.stop()
    }
  }, 30_000)

  it('replays every policy the same: sequences, subjects, payloads, pending counts', () => {
    const tickfan = seenBy.tickfan as Record<string, unknown>
    const reference = seenBy['nats-server'] as Record<string, unknown>
    for (const key of ['all', 'filtered', 'lastPerSubject', 'last', 'fromSeq', 'fromTime', 'batchOfTwo', 'news']) {
      expect({ [key]: tickfan[key] }).toEqual({ [key]: reference[key] })
    }
    expect((tickfan.all as Seen[]).length).toBe(17)
  })

  it('acknowledges publishes and keeps a message id once, the same', () => {
    expect(seenBy.tickfan?.acks).toEqual(seenBy['nats-server']?.acks)
    expect(seenBy.tickfan?.acks).toContainEqual({ refused: 'header size exceeds maximum allowed of 64k' })
    expect(seenBy.tickfan?.state).toEqual(seenBy['nats-server']?.state)
  })

  it('answers direct gets the same', () => {
    expect(seenBy.tickfan?.direct).toEqual(seenBy['nats-server']?.direct)
    expect(seenBy.tickfan?.bySeq).toEqual(seenBy['nats-server']?.bySeq)
  })

  it('fails the same requests with the same JetStream errors', () => {
    expect(seenBy.tickfan?.errors).toEqual(seenBy['nats-server']?.errors)
    expect(seenBy.tickfan?.errors).toMatchObject({
      streamNotFound: { status: 404, code: 10059 },
      filterOutside: { status: 400, code: 10093 },
      consumerNotFound: { status: 404, code: 10014 },
      startSeqMissing: { status: 400, code: 10094 }
    })
  })
})

describe('tickfan\'s history beyond what nats-server shows', () => {
  let t: Target
  let nc: NatsConnection
  const ask = async (subject: string, body: unknown = ''): Promise<Record<string, unknown>> =>
    (await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 2000 })).json()
  /** Sends a pull request and collects what comes back to its inbox until `until` says stop. */
  type Pulled = { statuses: string[], data: string[] }
  type Until = (statuses: string[], data: string[]) => boolean
  const pull = async (consumer: string, body: unknown, until: Until): Promise<Pulled> => {
    const inbox = `_INBOX.pull.${consumer}`
    const sub = nc.subscribe(inbox)
    const statuses: string[] = []
    const data: string[] = []
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.trades.${consumer}`, JSON.stringify(body), { reply: inbox })
    for await (const m of sub) {
      if (m.headers?.code !== undefined && m.headers.code > 0) statuses.push(`${m.headers.code} ${m.headers.description}`)
      else data.push(m.string())
      if (until(statuses, data)) break
    }
    return { statuses, data }
  }
  const create = async (name: string, config: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
    await ask(`$JS.API.CONSUMER.CREATE.trades.${name}`, { stream_name: 'trades', config: { name, ack_policy: 'none', deliver_policy: 'all', ...config } })

  beforeAll(async () => {
    t = await startTickfan({ maxConsumersPerConnection: 3 })
    nc = await connect({ servers: t.natsUrl })
    nc.publish('trade.binance.BTC-USD', 'one')
    await nc.flush()
  })
  afterAll(async () => {
    await nc.close()
    await t.stop()
  })

  it('refuses unknown fields, ack policies and push consumers it does not serve, saying which', async () => {
    expect(await create('a', { bogus: 1 })).toMatchObject({ error: { code: 400, err_code: 10025, description: 'invalid JSON: json: unknown field "bogus"' } })
    const explicit = await create('a', { ack_policy: 'explicit' })
    expect(explicit).toMatchObject({ error: { code: 400, err_code: 10003 } })
    expect((explicit.error as { description: string }).description).toContain('ack policy explicit is not supported')
    expect(await ask('$JS.API.STREAM.CREATE.other', { name: 'other', subjects: ['other.>'] })).toMatchObject({ error: { code: 400, err_code: 10003 } })
    expect(await ask('$JS.API.CONSUMER.CREATE.trades', '{nope')).toMatchObject({ error: { code: 400, err_code: 10025 } })
  })

  it('bounds the consumers of one connection, and frees them when it closes', async () => {
    const other = await connect({ servers: t.natsUrl })
    try {
      for (const name of ['c1', 'c2', 'c3']) {
        const r = await other.request('$JS.API.CONSUMER.CREATE.trades', JSON.stringify({ stream_name: 'trades', config: { name, ack_policy: 'none' } }))
        expect(r.json()).toMatchObject({ name })
      }
      const refused = await other.request('$JS.API.CONSUMER.CREATE.trades', JSON.stringify({ stream_name: 'trades', config: { name: 'c4', ack_policy: 'none' } }))
      expect(refused.json()).toMatchObject({ error: { code: 400, err_code: 10026, description: 'maximum consumers limit reached' } })
      expect(await create('mine')).toMatchObject({ name: 'mine' }) // another connection is not refused
    } finally {
      await other.close()
    }
    await eventually(() => t.broker?.router.jetstream?.consumerCount === 1, 5000, 'the closed connection\'s consumers removed')
    await ask('$JS.API.CONSUMER.DELETE.trades.mine')
  })

  it('ends a pull with 404 (no_wait, nothing there), 408 (expired, with what is still owed), after idle heartbeats', async () => {
    expect(await create('p', { deliver_policy: 'new' })).toMatchObject({ name: 'p', num_pending: 0 })
    expect((await pull('p', { batch: 5, no_wait: true }, (s) => s.length > 0)).statuses).toEqual(['404 No Messages'])
    const waited = await pull('p', { batch: 5, expires: 600e6, idle_heartbeat: 200e6 }, (s) => s.some((x) => x.startsWith('408')))
    expect(waited.statuses[waited.statuses.length - 1]).toBe('408 Request Timeout')
    expect(waited.statuses.filter((s) => s === '100 Idle Heartbeat').length).toBeGreaterThanOrEqual(1)
    const delivered = pull('p', { batch: 2, expires: 5000e6 }, (_s, d) => d.length === 2)
    await delay(50)
    nc.publish('trade.kraken.ETH-USD', 'two')
    nc.publish('trade.kraken.ETH-USD', 'three')
    expect((await delivered).data).toEqual(['two', 'three'])
    await ask('$JS.API.CONSUMER.DELETE.trades.p')
  })

  it('removes a consumer idle past its inactive threshold', async () => {
    expect(await create('idle', { inactive_threshold: 200e6 })).toMatchObject({ name: 'idle' })
    await eventually(async () => (await ask('$JS.API.CONSUMER.INFO.trades.idle')).error !== undefined, 3000, 'the idle consumer removed')
    expect(await ask('$JS.API.CONSUMER.INFO.trades.idle')).toMatchObject({ error: { err_code: 10014 } })
    expect((await pull('idle', { batch: 1 }, (s) => s.length > 0)).statuses).toEqual(['409 Consumer Deleted'])
  })

  it('stores a republished trade (the same Nats-Msg-Id) once and delivers it live once, acknowledging it as a duplicate', async () => {
    const live: string[] = []
    const sub = nc.subscribe('trade.bitstamp.>', { callback: (_e, m) => { live.push(m.string()) } })
    await nc.flush()
    const h = headers()
    h.set('Nats-Msg-Id', 'bitstamp.BTC-USD.77')
    nc.publish('trade.bitstamp.BTC-USD', 'first', { headers: h })
    nc.publish('trade.bitstamp.BTC-USD', 'again', { headers: h })
    const ack = await nc.request('trade.bitstamp.BTC-USD', 'asked', { headers: h, timeout: 2000 })
    expect(ack.json()).toMatchObject({ stream: 'trades', duplicate: true })
    await nc.flush()
    await delay(50)
    expect(live).toEqual(['first'])
    const got = await ask('$JS.API.STREAM.MSG.GET.trades', { last_by_subj: 'trade.bitstamp.BTC-USD' })
    expect(Buffer.from((got.message as { data: string }).data, 'base64').toString()).toBe('first')
    sub.unsubscribe()
  })

  it('stores a trade marked Tickfan-History-Only without delivering it live, and without the mark', async () => {
    const live: string[] = []
    const sub = nc.subscribe('trade.bitstamp.ETH-USD', { callback: (_e, m) => { live.push(m.string()) } })
    await nc.flush()
    const h = headers()
    h.set('Nats-Msg-Id', 'bitstamp.ETH-USD.5')
    h.set('Tickfan-History-Only', 'true')
    nc.publish('trade.bitstamp.ETH-USD', 'republished', { headers: h })
    nc.publish('trade.bitstamp.ETH-USD', 'live')
    await nc.flush()
    await delay(50)
    expect(live).toEqual(['live'])
    const got = await ask('$JS.API.STREAM.MSG.GET.trades', { seq: (await ask('$JS.API.STREAM.INFO.trades') as { state: { last_seq: number } }).state.last_seq - 1 })
    const message = got.message as { data: string, hdrs: string }
    expect(Buffer.from(message.data, 'base64').toString()).toBe('republished')
    const hdrs = Buffer.from(message.hdrs, 'base64').toString()
    expect(hdrs).toContain('Nats-Msg-Id: bitstamp.ETH-USD.5')
    expect(hdrs).not.toContain('Tickfan-History-Only')
    sub.unsubscribe()
  })

  it('shows its streams in /varz', async () => {
    const varz = await (await fetch(`${t.httpUrl}/varz`)).json() as { tickfan: { history: { streams: Array<Record<string, unknown>> } } }
    const stream = varz.tickfan.history.streams[0] as { bytes: number, held_bytes: number, messages: number }
    expect(stream).toMatchObject({ name: 'trades', subjects: ['trade.>'], first_seq: 1 })
    // Slab bytes: the payloads and headers kept (bytes also counts subjects).
    expect(stream.messages).toBeGreaterThan(0)
    expect(stream.held_bytes).toBeGreaterThan(0)
    expect(stream.held_bytes).toBeLessThan(stream.bytes)
  })
})

describe('--history-preallocate', () => {
  it('takes the history\'s slabs and blocks at start and fills from them: /varz counts none taken after', async () => {
    const t = await startTickfan({ historyPreallocate: true, historyMaxBytes: 1024 * 1024 })
    const nc = await connect({ servers: t.natsUrl })
    try {
      interface Stream {
        slabs_allocated: number
        blocks_allocated: number
        last_seq: number
        messages: number
        removed: { bytes: number }
      }
      const stream = async (): Promise<Stream> => {
        const varz = await (await fetch(`${t.httpUrl}/varz`)).json() as { tickfan: { history: { streams: Stream[] } } }
        return varz.tickfan.history.streams[0] as Stream
      }
      // 1 MiB in 64 KiB slabs, and the columns of 1 MiB / 128 B messages in blocks of 4,096 (and
      // one more), taken before any trade.
      expect(await stream()).toMatchObject({ slabs_allocated: 16, blocks_allocated: 3, messages: 0 })
      // 2.8 MB of trades of 137-138 B: the history fills and then lets its oldest go, from the
      // same 16 slabs and 3 blocks.
      for (let i = 0; i < 20_000; i++) nc.publish(`trade.bitstamp.S${i % 10}`, 'x'.repeat(120))
      await nc.flush()
      await eventually(async () => (await stream()).last_seq === 20_000, 5000, 'every trade stored')
      const after = await stream()
      expect(after.removed.bytes).toBeGreaterThan(0)
      expect(after.slabs_allocated).toBe(16)
      expect(after.blocks_allocated).toBe(3)
    } finally {
      await nc.close()
      await t.stop()
    }
  })
})

describe('a broker of several workers', () => {
  it('keeps the whole history on every worker: clients on any worker replay every trade, each once', async () => {
    const { broker, natsUrl: url } = await startBrokerCommand(['--workers', '2', '--log-level', 'error'])
    const open: NatsConnection[] = []
    try {
      // Publishers on both workers (connections are handed out in turn).
      const publishers = [await connect({ servers: url }), await connect({ servers: url })]
      open.push(...publishers)
      for (let i = 1; i <= 20; i++) {
        const h = headers()
        h.set('Nats-Msg-Id', `sim.X.${i}`)
        ;(publishers[i % 2] as NatsConnection).publish('trade.sim.X', `t${i}`, { headers: h })
      }
      const again = headers()
      again.set('Nats-Msg-Id', 'sim.X.4')
      ;(publishers[1] as NatsConnection).publish('trade.sim.X', 't4', { headers: again })
      for (const p of publishers) await p.flush()
      for (let reader = 0; reader < 2; reader++) {
        const nc = await connect({ servers: url })
        open.push(nc)
        const seen: string[] = []
        await eventually(async () => {
          seen.length = 0
          const consumer = await jetstream(nc).consumers.get('trades', { deliver_policy: DeliverPolicy.All })
          for await (const m of await consumer.fetch({ max_messages: 50, expires: 1000 })) seen.push(m.string())
          return seen.length >= 20
        }, 10_000, 'every trade in this worker\'s history')
        expect(seen.slice().sort()).toEqual(Array.from({ length: 20 }, (_, k) => `t${k + 1}`).sort())
      }
    } finally {
      for (const nc of open) await nc.close().catch(() => {})
      await broker.stop('SIGINT')
    }
  }, 30_000)
})

describe('the sweep', () => {
  it('removes messages past the age limit from a stream nothing is appended to', () => {
    let now = 1_000
    const stream = new HistoryStream({
      name: 'trades', subjects: ['trade.>'], maxAgeMs: 500, maxBytes: 1e6,
      maxMsgsPerSubject: 0, duplicateWindowMs: 100, maxMsgIds: 10
    }, now)
    const limits = {
      maxConsumersPerConnection: 1, maxConsumers: 1, maxWaiting: 1, defaultInactiveMs: 5_000, maxInactiveMs: 5_000
    }
    const service = new JetStreamService([stream], limits, () => now)
    stream.append('trade.a', Buffer.from('t'), 0, undefined, now)
    now += 500
    service.sweep()
    expect(stream.messages).toBe(1)
    now += 1
    service.sweep()
    expect([stream.messages, stream.removed.age]).toEqual([0, 1])
  })
})
