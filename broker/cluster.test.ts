/**
 * The multi-core broker as an operator runs it (`npm run broker -- --workers 3`), with the
 * official client: delivery across workers exactly once, queue groups across workers, the same
 * snapshot from every worker, request/reply across workers, monitoring that adds up every
 * worker, and a worker that dies being replaced while its clients move on.
 */
import { execFileSync } from 'node:child_process'
import { connect, headers, wsconnect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { heldFor, silent } from './test-support/connection-probes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { startBrokerCommand, waitForOutput, type CommandProcess } from './test-support/processes.ts'
import { delay, ensureWebSocketGlobal, eventually } from './test-support/targets.ts'
import { SEQUENCE_HEADER } from '../lib/headers.ts'

const WORKERS = 3

describe('a broker with several workers', () => {
  let broker: CommandProcess
  let natsUrl: string
  let wsUrl: string
  let httpUrl: string
  const open: NatsConnection[] = []

  /** Connections until every worker holds `perWorker` of them (the primary deals them round-robin). */
  async function clientsOnEveryWorker (perWorker: number): Promise<NatsConnection[][]> {
    const byWorker: NatsConnection[][] = Array.from({ length: WORKERS }, () => [])
    for (let tries = 0; tries < perWorker * WORKERS * 4 && byWorker.some((l) => l.length < perWorker); tries++) {
      const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
      open.push(nc)
      const worker = Number(/W(\d+)$/.exec(nc.info?.server_id ?? '')?.[1])
      byWorker[worker]?.push(nc)
    }
    expect(byWorker.every((l) => l.length >= perWorker)).toBe(true)
    return byWorker.map((l) => l.slice(0, perWorker))
  }

  /** Raw connections until `count` workers hold one each (each handshaken). */
  async function rawClientsOnWorkers (count: number): Promise<{ raws: RawClient[], byWorker: Map<number, RawClient> }> {
    const raws: RawClient[] = []
    const byWorker = new Map<number, RawClient>()
    while (byWorker.size < count) {
      const raw = await RawClient.connect(Number(new URL(natsUrl).port))
      raws.push(raw)
      await raw.handshake()
      const worker = Number(/"server_id":"[^"]*W(\d+)"/.exec(raw.text)?.[1])
      if (!byWorker.has(worker)) byWorker.set(worker, raw)
    }
    return { raws, byWorker }
  }

  beforeAll(async () => {
    const started = await startBrokerCommand(['--workers', String(WORKERS), '--ws-port=0', '--http-port=0'])
    broker = started.broker
    natsUrl = started.natsUrl
    wsUrl = started.wsUrl as string
    httpUrl = started.httpUrl as string
  }, 40_000)

  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => {})
    await broker.stop('SIGINT')
  })

  it('delivers a message published on any worker to the subscribers on every worker, exactly once and in order', async () => {
    const byWorker = await clientsOnEveryWorker(2)
    const subscribers = byWorker.flat()
    const received = subscribers.map(() => [] as string[])
    subscribers.forEach((nc, i) => nc.subscribe('x.>', { callback: (_e, m) => { (received[i] as string[]).push(m.string()) } }))
    await Promise.all(subscribers.map(async (nc) => { await nc.flush() }))
    await delay(100) // interest is local; nothing to propagate, but let every SUB land
    const publisher = byWorker[1]?.[0] as NatsConnection
    const sent = Array.from({ length: 300 }, (_, i) => `m${i}`)
    for (const m of sent) publisher.publish('x.y', m)
    await publisher.flush()
    await eventually(() => received.every((r) => r.length >= sent.length), 10_000, 'every subscriber to get every message')
    await delay(200)
    for (const r of received) expect(r).toEqual(sent)
  })

  it('deals WebSocket clients to every worker too, each told the public ports', async () => {
    await ensureWebSocketGlobal()
    const byWorker = await clientsOnEveryWorker(1)
    expect(byWorker.flat().map((nc) => nc.info?.port)).toEqual(Array(WORKERS).fill(Number(new URL(natsUrl).port)))
    const wsWorkers = new Set<string>()
    const received: string[] = []
    for (let i = 0; i < WORKERS; i++) {
      const ws = await wsconnect({ servers: wsUrl })
      open.push(ws)
      wsWorkers.add(ws.info?.server_id as string)
      ws.subscribe('ws.x', { callback: (_e, m) => { received.push(m.string()) } })
      await ws.flush()
    }
    expect(wsWorkers.size).toBe(WORKERS) // in turn: three in a row land on three workers
    const publisher = byWorker[0]?.[0] as NatsConnection
    publisher.publish('ws.x', 'over tcp')
    await publisher.flush()
    await eventually(() => received.length === WORKERS, 5000, 'every WebSocket subscriber to get the message')
    expect(received).toEqual(Array(WORKERS).fill('over tcp'))
  })

  it('serves a queue group spread over workers once per message', async () => {
    const byWorker = await clientsOnEveryWorker(1)
    const got = byWorker.map(() => 0)
    byWorker.forEach(([nc], i) => nc?.subscribe('jobs.>', { queue: 'workers', callback: () => { got[i] = (got[i] as number) + 1 } }))
    await Promise.all(byWorker.map(async ([nc]) => { await nc?.flush() }))
    await delay(300) // queue membership travels to the other workers
    const publisher = byWorker[0]?.[0] as NatsConnection
    for (let i = 0; i < 600; i++) publisher.publish('jobs.a', String(i))
    await publisher.flush()
    await eventually(() => got.reduce((a, b) => a + b, 0) >= 600, 10_000, 'every job served')
    await delay(300)
    expect(got.reduce((a, b) => a + b, 0)).toBe(600)
    expect(got.filter((n) => n > 0).length).toBe(WORKERS) // spread over every worker
  })

  it('answers a request across workers', async () => {
    const byWorker = await clientsOnEveryWorker(1)
    const responder = byWorker[2]?.[0] as NatsConnection
    responder.subscribe('price.BTC-USD', { queue: 'pricers', callback: (_e, m) => { m.respond('42') } })
    await responder.flush()
    await delay(300)
    for (const [nc] of byWorker.slice(0, 2)) {
      const reply = await (nc as NatsConnection).request('price.BTC-USD', '', { timeout: 3000 })
      expect(reply.string()).toBe('42')
    }
  })

  it('gives a new subscriber the same snapshot on every worker', async () => {
    const publisher = (await clientsOnEveryWorker(1))[0]?.[0] as NatsConnection
    for (let round = 1; round <= 5; round++) {
      for (let s = 0; s < 10; s++) {
        const h = headers()
        h.set(SEQUENCE_HEADER, String(round))
        publisher.publish(`quote.test.S${s}`, `S${s}@${round}`, { headers: h })
      }
    }
    await publisher.flush()
    await delay(300)
    const snapshots: string[][] = []
    for (const [nc] of await clientsOnEveryWorker(1)) {
      const values: string[] = []
      const sub = nc?.subscribe('quote.test.>', { callback: (_e, m) => { values.push(m.string()) } })
      await nc?.flush()
      await delay(100)
      sub?.unsubscribe()
      snapshots.push(values.sort())
    }
    const expected = Array.from({ length: 10 }, (_, s) => `S${s}@5`).sort()
    for (const snap of snapshots) expect(snap).toEqual(expected)
  })

  it('adds up every worker in /varz, /connz and /metrics', async () => {
    const varz = await (await fetch(`${httpUrl}/varz`)).json() as {
      workers: number, connections: number, in_msgs: number,
      tickfan: {
        worker_links: { forwardedMsgs: number, receivedMsgs: number, droppedMsgs: number },
        connection_dealer: { dealt: number, dealtAgain: number, lost: number, refused: number, acceptErrors: number }
      }
    }
    const connz = await (await fetch(`${httpUrl}/connz?limit=1000`)).json() as { total: number, connections: Array<{ cid: number, worker: number }> }
    expect(varz.workers).toBe(WORKERS)
    expect(varz.connections).toBe(connz.total)
    expect(connz.total).toBeGreaterThanOrEqual(open.filter((nc) => !nc.isClosed()).length)
    expect(new Set(connz.connections.map((c) => c.worker)).size).toBe(WORKERS)
    // ids distinct across workers
    expect(new Set(connz.connections.map((c) => c.cid)).size).toBe(connz.connections.length)
    // in_msgs counts what clients published, once, not once per worker that routed it
    expect(varz.in_msgs).toBeGreaterThanOrEqual(300 + 600 + 50)
    expect(varz.in_msgs).toBeLessThan(2 * (300 + 600 + 50 + 100))
    // What the workers carried to each other: every forwarded message arrived, none dropped.
    expect(varz.tickfan.worker_links.forwardedMsgs).toBeGreaterThan(0)
    expect(varz.tickfan.worker_links.receivedMsgs).toBe(varz.tickfan.worker_links.forwardedMsgs)
    expect(varz.tickfan.worker_links.droppedMsgs).toBe(0)
    // The primary dealt every connection so far (and its own monitor's probes none); no worker has died yet.
    expect(varz.tickfan.connection_dealer.dealt).toBeGreaterThanOrEqual(open.length)
    expect(varz.tickfan.connection_dealer).toMatchObject({ dealtAgain: 0, lost: 0, refused: 0, acceptErrors: 0 })
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^tickfan_connections \d+/m)
  })

  it('has every SUB and UNSUB in force on every worker before its PONG: no message published after the PONG is lost or leaks, under load', async () => {
    const { raws, byWorker } = await rawClientsOnWorkers(2)
    const [subscriber, publisher] = [...byWorker.values()] as [RawClient, RawClient]
    // Load on the publisher's worker while the rounds run: a flood nobody waits for.
    const [flooder] = await clientsOnEveryWorker(1).then((w) => w.flat())
    let flooding = true
    void (async () => { while (flooding) { for (let i = 0; i < 200; i++) flooder?.publish('flood.x', 'y'); await delay(1) } })()
    const ROUNDS = 1500
    let lost = 0
    for (let i = 0; i < ROUNDS; i++) {
      // Move the interest: drop the last round's subject, take this round's, then PING. Once the
      // PONG is in, a publish from the other worker must arrive, and one to the old subject must not.
      subscriber.send(`${i > 0 ? `UNSUB ${i - 1}\r\n` : ''}SUB round.${i} ${i}\r\n`)
      await subscriber.roundTrip()
      publisher.send(`PUB round.${i} 2\r\nin\r\n${i > 0 ? `PUB round.${i - 1} 3\r\nout\r\n` : ''}`)
      const arrived = await subscriber.waitFor((t) => t.includes(`MSG round.${i} ${i} 2\r\n`), 1000).then(() => true, () => false)
      if (!arrived) lost++
    }
    flooding = false
    await publisher.roundTrip()
    await delay(200)
    expect(lost).toBe(0)
    expect(subscriber.text).not.toMatch(/\r\nout\r\n/) // nothing after its UNSUB's PONG
    for (const raw of raws) raw.close()
  }, 60_000)

  it('delivers to a subscription across workers as soon as the official client\'s flush returns', async () => {
    const byWorker = await clientsOnEveryWorker(1)
    const [a, b] = [byWorker[0]?.[0], byWorker[1]?.[0]] as [NatsConnection, NatsConnection]
    let lost = 0
    for (let i = 0; i < 300; i++) {
      const [subscriber, publisher] = i % 2 === 0 ? [a, b] : [b, a]
      let got = 0
      const sub = subscriber.subscribe(`flush.${i}`, { callback: () => { got++ } })
      await subscriber.flush()
      for (let k = 0; k < 5; k++) publisher.publish(`flush.${i}`, String(k))
      await publisher.flush()
      await eventually(() => got === 5, 2000, 'five messages').catch(() => {})
      lost += 5 - got
      sub.unsubscribe()
    }
    expect(lost).toBe(0)
  }, 60_000)

  it("answers a client's PING after its own messages published before it, and an UNSUB after them leaves them delivered, as one nats-server does", async () => {
    // A local publish goes round the worker mesh before its own worker delivers it; the PONG
    // and the UNSUB that followed it overtook it there: flush() returned before the client's
    // own messages, and a drain lost them.
    const { raws, byWorker } = await rawClientsOnWorkers(WORKERS)
    // 150 rounds put each worker's loopback list past its compaction (1,024 entries, fair-release.ts).
    for (const raw of byWorker.values()) {
      for (let i = 0; i < 150; i++) {
        const start = raw.text.length
        // c comes after the UNSUB: not delivered. The sid is free at once after its UNSUB, as on nats-server.
        raw.send(`SUB own.${i} ${i}\r\nPUB own.${i} 1\r\na\r\nPUB own.${i} 1\r\nb\r\nUNSUB ${i}\r\nPUB own.${i} 1\r\nc\r\n` +
          `SUB next.${i} ${i}\r\nPUB next.${i} 1\r\nd\r\nUNSUB ${i}\r\nPUB next.${i} 1\r\ne\r\nPING\r\n`)
        await raw.waitFor((t) => t.indexOf('PONG\r\n', start) >= 0)
        await raw.roundTrip() // anything that would come late, here before this PONG
        const msg = (subject: string, body: string): string => `MSG ${subject}.${i} ${i} 1\r\n${body}\r\n`
        expect(raw.text.slice(start)).toBe(`${msg('own', 'a')}${msg('own', 'b')}${msg('next', 'd')}PONG\r\nPONG\r\n`)
      }
    }
    // The official client's drain: UNSUB then flush, right after publishing, with no flush between.
    for (const [nc] of await clientsOnEveryWorker(1)) {
      const client = nc as NatsConnection
      for (let i = 0; i < 20; i++) {
        let got = 0
        const sub = client.subscribe(`drain.${i}`, { callback: () => { got++ } })
        for (let k = 0; k < 10; k++) client.publish(`drain.${i}`, String(k))
        await sub.drain()
        expect(got).toBe(10)
      }
    }
    for (const raw of raws) raw.close()
  }, 60_000)

  it("keeps a client's own message from the SUB it sent right after publishing it, a queue member included; a last value still reaches it", async () => {
    // The publish comes back round the loopback after the SUB is in force: it reached the new
    // subscription every time (and the new queue member about half the time); nats-server,
    // handling the client's commands in order, never delivers it there.
    const { raws, byWorker } = await rawClientsOnWorkers(WORKERS)
    for (const [worker, raw] of byWorker) {
      raw.send(`SUB late.${worker}.* w\r\nSUB qlate.${worker}.* g q0\r\n`)
      await raw.roundTrip()
      for (let i = 0; i < 40; i++) {
        const start = raw.text.length
        const [late, qlate, quote] = ['late', 'qlate', 'quote.late'].map((s) => `${s}.${worker}.${i}`) as [string, string, string]
        raw.send(`PUB ${late} 1\r\na\r\nSUB ${late} s${i}\r\nPUB ${late} 1\r\nb\r\nUNSUB s${i}\r\n` +
          `PUB ${qlate} 1\r\na\r\nSUB ${qlate} g q${i + 1}\r\nPUB ${qlate} 1\r\nb\r\nUNSUB q${i + 1}\r\n` +
          `PUB ${quote} 1\r\na\r\nSUB ${quote} v${i}\r\nPUB ${quote} 1\r\nb\r\nUNSUB v${i}\r\nPING\r\n`)
        await raw.waitFor((t) => t.indexOf('PONG\r\n', start) >= 0)
        await raw.roundTrip()
        const got = raw.text.slice(start)
        const count = (subject: string, sid: string, body: string): number =>
          got.split(`MSG ${subject} ${sid} 1\r\n${body}\r\n`).length - 1
        expect([count(late, 'w', 'a'), count(late, 'w', 'b')]).toEqual([1, 1])
        expect([count(late, `s${i}`, 'a'), count(late, `s${i}`, 'b')]).toEqual([0, 1])
        expect([count(qlate, 'q0', 'a'), count(qlate, `q${i + 1}`, 'a')]).toEqual([1, 0])
        expect(count(qlate, 'q0', 'b') + count(qlate, `q${i + 1}`, 'b')).toBe(1)
        // One worker's SUB had a from the cache's snapshot; here a is stored only as it comes back.
        expect([count(quote, `v${i}`, 'a'), count(quote, `v${i}`, 'b')]).toEqual([1, 1])
      }
    }
    for (const raw of raws) raw.close()
  })

  it('answers a PING after a SUB before it delivers what the client published after the PING', async () => {
    // The PONG waits for the other workers to apply the SUB; the publish after the PING came
    // back round the loopback first, so its message reached the client before the PONG.
    const { raws, byWorker } = await rawClientsOnWorkers(WORKERS)
    for (const [worker, raw] of byWorker) {
      for (let i = 0; i < 50; i++) {
        const start = raw.text.length
        const subject = `pong.${worker}.${i}`
        raw.send(`SUB ${subject} ${i}\r\nPING\r\nPUB ${subject} 1\r\nx\r\nPING\r\n`)
        await raw.waitFor((t) => t.slice(start).split('PONG\r\n').length - 1 >= 2)
        expect(raw.text.slice(start)).toBe(`PONG\r\nMSG ${subject} ${i} 1\r\nx\r\nPONG\r\n`)
      }
    }
    for (const raw of raws) raw.close()
  })

  it('serves every queue group of a subject on another worker, past 255 of them', async () => {
    const { raws, byWorker } = await rawClientsOnWorkers(2)
    const [members, publisher] = [...byWorker.values()] as [RawClient, RawClient]
    const GROUPS = 300
    members.send(Array.from({ length: GROUPS }, (_, i) => `SUB groups.x g${i} ${i}\r\n`).join(''))
    await members.roundTrip() // in force on every worker at its PONG
    publisher.send('PUB groups.x 1\r\nx\r\n')
    await publisher.roundTrip()
    await members.waitFor((t) => (t.match(/MSG groups\.x /g) ?? []).length >= GROUPS)
    await members.roundTrip()
    expect((members.text.match(/MSG groups\.x /g) ?? []).length).toBe(GROUPS) // one per group: 44 before
    for (const raw of raws) raw.close()
  })

  it('pages /connz past the first 1,024 connections across workers: every connection once, in order', async () => {
    const raws: RawClient[] = []
    try {
      for (let i = 0; i < 1100; i++) {
        const raw = await RawClient.connect(Number(new URL(natsUrl).port))
        raws.push(raw)
        raw.send('CONNECT {"verbose":false,"pedantic":false}\r\n')
      }
      await raws[raws.length - 1]?.roundTrip()
      interface Page {
        total: number
        offset: number
        limit: number
        connections: Array<{ cid: number, worker: number, subscriptions: number }>
      }
      const page = async (query: string): Promise<Page> => await (await fetch(`${httpUrl}/connz?${query}`)).json() as Page
      for (const sort of ['cid', 'subs']) {
        const first = await page(`sort=${sort}&limit=1024`)
        // Past the first 1,024: the workers' sort keys merged, then the page's records (cluster-monitor.ts).
        const rest = await page(`sort=${sort}&offset=1024&limit=1024`)
        expect(first.total).toBeGreaterThanOrEqual(1100)
        expect(rest).toMatchObject({ offset: 1024, limit: 1024 })
        const all = [...first.connections, ...rest.connections]
        expect(all.length).toBe(first.total)
        expect(new Set(all.map((c) => c.cid)).size).toBe(all.length)
        // Connections are dealt in turn and ids interleave across workers: every one is on the page by id.
        if (sort === 'cid') expect(new Set(rest.connections.map((c) => c.worker)).size).toBe(WORKERS)
        const keys = all.map((c) => sort === 'cid' ? c.cid : -c.subscriptions)
        expect(keys).toEqual([...keys].sort((a, b) => a - b))
      }
    } finally {
      for (const raw of raws) raw.close()
    }
  }, 60_000)

  it('replaces a worker that dies; its clients reconnect and get the snapshot back', async () => {
    const byWorker = await clientsOnEveryWorker(1)
    const [publisher, victim] = [byWorker[0]?.[0], byWorker[1]?.[0]] as [NatsConnection, NatsConnection]
    const h = headers()
    h.set(SEQUENCE_HEADER, '1')
    publisher.publish('quote.restart.R0', 'R0@1', { headers: h })
    await publisher.flush()
    await delay(300) // the last value reaches every worker
    const values: string[] = []
    victim.subscribe('quote.restart.R0', { callback: (_e, m) => { values.push(m.string()) } })
    await victim.flush()
    await eventually(() => values.length === 1, 3000, 'the snapshot')
    const pids = execFileSync('pgrep', ['-P', String(broker.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    // Which child is worker 1: the one whose /proc environ says so.
    const pid = pids.find((p) => { try { return execFileSync('cat', [`/proc/${p}/environ`], { encoding: 'latin1' }).includes('TICKFAN_WORKER_INDEX=1\0') } catch { return false } })
    expect(pid).toBeDefined()
    process.kill(pid as number, 'SIGKILL')
    await eventually(() => values.length >= 2, 15_000, 'the client to reconnect, resubscribe and get the snapshot again')
    expect(values).toEqual(['R0@1', 'R0@1'])
    await eventually(async () => ((await (await fetch(`${httpUrl}/healthz`)).json()) as { workers: number }).workers === WORKERS, 15_000, 'the worker replaced')
    await waitForOutput(broker, /worker 1 back and linked/, 15_000, 'the broker')
  }, 40_000)
})

describe('a broker with two workers and control lines past 64 KiB', () => {
  it('carries a subject longer than 65,535 bytes across workers, and no worker dies of it', async () => {
    // The mesh wrote string lengths as u16: a 70 KB subject threw in the publishing worker,
    // which exited, and every client on it was cut off.
    const { broker, natsUrl } = await startBrokerCommand(['--workers', '2', '--max-control-line', '131072'])
    const raws: RawClient[] = []
    try {
      const byWorker = new Map<string, RawClient>()
      while (byWorker.size < 2) {
        const raw = await RawClient.connect(Number(new URL(natsUrl).port))
        raws.push(raw)
        await raw.handshake()
        byWorker.set(/"server_id":"([^"]*)"/.exec(raw.text)?.[1] as string, raw)
      }
      const [subscriber, publisher] = [...byWorker.values()] as [RawClient, RawClient]
      subscriber.send('SUB long.> 1\r\n')
      await subscriber.roundTrip()
      const subject = `long.${'a'.repeat(70_000)}`
      publisher.send(`PUB ${subject} 1\r\nx\r\nPUB long.short 1\r\ny\r\n`)
      await publisher.roundTrip()
      await subscriber.waitFor((t) => t.includes('MSG long.short 1 1\r\ny\r\n'))
      expect(subscriber.text).toContain(`MSG ${subject} 1 1\r\nx\r\n`)
      expect(broker.output()).not.toMatch(/stopped \(code/)
    } finally {
      for (const raw of raws) raw.close()
      await broker.stop('SIGINT')
    }
  }, 40_000)
})

describe('a broker with two workers and --max-connections', () => {
  it('holds the limit across its workers, on both ports, and takes connections again as others close', async () => {
    // Each worker counted only its own: two workers under --max-connections 5 took 8 of 8.
    const LIMIT = 4
    const { broker, natsUrl, wsUrl } = await startBrokerCommand(['--workers', '2', '--ws-port=0', '--max-connections', String(LIMIT)])
    const port = Number(new URL(natsUrl).port)
    const raws: RawClient[] = []
    try {
      for (let i = 0; i < LIMIT; i++) {
        const raw = await RawClient.connect(port)
        raws.push(raw)
        await raw.handshake()
      }
      const nats = await heldFor(port, silent, 10_000)
      expect(nats.text).toMatch(/^INFO .*\r\n-ERR 'maximum connections exceeded'\r\n$/)
      const ws = await heldFor(Number(new URL(wsUrl as string).port), silent, 10_000)
      expect(ws.told).toBe('HTTP/1.1 503 Service Unavailable')
      // Two go; two places come back (the workers tell the primary as each closes).
      for (const raw of raws.splice(0, 2)) raw.close()
      await eventually(async () => {
        const raw = await RawClient.connect(port)
        raws.push(raw)
        return await raw.handshake().then(() => true, () => false)
      }, 10_000, 'a place freed by a closed connection')
      const last = await RawClient.connect(port)
      raws.push(last)
      await last.handshake()
      expect((await heldFor(port, silent, 10_000)).text).toMatch(/-ERR 'maximum connections exceeded'/)
    } finally {
      for (const raw of raws) raw.close()
      await broker.stop('SIGINT')
    }
  }, 40_000)
})
