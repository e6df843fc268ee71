/**
 * The WebSocket port's handshake is held to the connect timeout, as the NATS port's CONNECT is:
 * a connection that sends nothing, or its upgrade request a line at a time (slowloris), is closed,
 * where Node's HTTP server would keep it 60 s (or, silent, for ever), holding one of the broker's files under
 * no connection limit. One broker in this process, and two workers behind a primary (the
 * connection dealt to a worker).
 */
import { connect, wsconnect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { drip, heldFor, opened, silent } from './test-support/connection-probes.ts'
import { startBrokerCommand } from './test-support/processes.ts'
import { ensureWebSocketGlobal, eventually, startTickfan } from './test-support/targets.ts'

const CONNECT_TIMEOUT_MS = 500
/** Far below Node's own limits (60 s for headers, none for a silent socket), far above the timeout. */
const CLOSED_WITHIN_MS = 5000
/** When a probe stops waiting for the broker to close it. */
const GIVE_UP_MS = CLOSED_WITHIN_MS * 2

const BROKERS: Array<[string, () => Promise<{ wsPort: number, stop: () => Promise<unknown> }>]> = [
  ['one broker', async () => {
    const t = await startTickfan({ connectTimeoutMs: CONNECT_TIMEOUT_MS })
    return { wsPort: Number(new URL(t.wsUrl).port), stop: t.stop }
  }],
  ['npm run broker -- --workers 2', async () => {
    const { broker, wsUrl } = await startBrokerCommand(['--workers', '2', '--ws-port=0', '--connect-timeout-ms', String(CONNECT_TIMEOUT_MS)])
    return { wsPort: Number(new URL(wsUrl as string).port), stop: async () => await broker.stop() }
  }]
]

describe.each(BROKERS)('the WebSocket handshake on %s', (_name, start) => {
  let broker: { wsPort: number, stop: () => Promise<unknown> }
  beforeAll(async () => { broker = await start() })
  afterAll(async () => { await broker?.stop() })

  it('refuses a page of another site with 403 before the upgrade, and serves this machine\'s pages and non-browsers', async () => {
    const attempt = async (origin: string | undefined): Promise<string> => await new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${broker.wsPort}`, origin === undefined ? {} : { origin })
      ws.once('message', (data: Buffer) => { resolve(data.toString('latin1').slice(0, 4)); ws.close() })
      ws.once('unexpected-response', (_req, res) => { resolve(`${res.statusCode ?? ''}`); res.resume() })
      ws.once('error', (err) => resolve(err.message))
    })
    expect(await attempt('http://evil.example')).toBe('403')
    expect(await attempt('http://127.0.0.1:8081')).toBe('INFO')
    expect(await attempt(undefined)).toBe('INFO')
  })

  it('closes a connection that sends nothing, with 408', async () => {
    const { ms, told } = await heldFor(broker.wsPort, silent, GIVE_UP_MS)
    expect(ms).not.toBeNull()
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50)
    expect(ms).toBeLessThan(CLOSED_WITHIN_MS)
    expect(told).toBe('HTTP/1.1 408 Request Timeout')
  })

  it('closes a connection that sends its upgrade request a line at a time, with 408', async () => {
    const { ms, told } = await heldFor(broker.wsPort, drip, GIVE_UP_MS)
    expect(ms).not.toBeNull()
    expect(ms).toBeLessThan(CLOSED_WITHIN_MS)
    expect(told).toBe('HTTP/1.1 408 Request Timeout')
  })

  it('leaves a connection that upgraded alone: the NATS connect timeout is what it answers to then', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${broker.wsPort}`)
    const frames: string[] = []
    ws.on('message', (data: Buffer) => frames.push(data.toString('latin1')))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.send('CONNECT {"verbose":false}\r\n')
    // Past the timeout many times over, still served.
    await new Promise((resolve) => setTimeout(resolve, CONNECT_TIMEOUT_MS * 3))
    ws.send('PING\r\n')
    const deadline = Date.now() + CLOSED_WITHIN_MS
    while (!frames.join('').includes('PONG\r\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(frames.join('')).toMatch(/^INFO .*\r\n(.*\r\n)*PONG\r\n/s)
    expect(ws.readyState).toBe(WebSocket.OPEN)
    ws.close()
  })
})

describe('connections still upgrading count against the connection limit', () => {
  let t: Awaited<ReturnType<typeof startTickfan>>
  beforeAll(async () => { t = await startTickfan({ maxConnections: 3, connectTimeoutMs: 30_000 }) })
  afterAll(async () => { await t?.stop() })

  it('refuses one more with 503 on the WebSocket port and -ERR on the NATS port, and takes one again once they go', async () => {
    const wsPort = Number(new URL(t.wsUrl).port)
    const upgrading = await Promise.all(Array.from({ length: 3 }, async () => await opened(wsPort)))
    await eventually(() => t.broker?.router.pendingPlaces === 3, 5000, 'three upgrades under way')
    const refused = await heldFor(wsPort, silent, GIVE_UP_MS)
    expect(refused.told).toBe('HTTP/1.1 503 Service Unavailable')
    expect(refused.ms).not.toBeNull()
    expect(refused.ms).toBeLessThan(CLOSED_WITHIN_MS)
    const nats = await heldFor(t.port, silent, GIVE_UP_MS)
    expect(nats.ms).not.toBeNull()
    expect(nats.ms).toBeLessThan(CLOSED_WITHIN_MS)
    expect(nats.text).toMatch(/^INFO .*\r\n-ERR 'maximum connections exceeded'\r\n$/)
    for (const { socket } of upgrading) socket.destroy()
    await eventually(() => t.broker?.router.pendingPlaces === 0, 5000, 'the upgrades to be let go')
    const ws = new WebSocket(t.wsUrl)
    await new Promise((resolve, reject) => { ws.once('message', resolve); ws.once('error', reject) })
    expect(t.broker?.router.clients.size).toBe(1)
    ws.close()
    expect(t.broker?.router.stats.rejectedConnections).toBe(2)
  })
})

describe('a WebSocket message', () => {
  it('may hold many commands up to --ws-max-message-bytes; one past it is closed with 1009, and other clients go on', async () => {
    const t = await startTickfan({ maxPayloadBytes: 1024, wsMaxMessageBytes: 64 * 1024 })
    try {
      const ws = new WebSocket(t.wsUrl)
      const text: string[] = []
      ws.on('message', (data: Buffer) => text.push(data.toString()))
      const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)))
      await new Promise((resolve) => ws.once('open', resolve))
      const pub = `PUB many 1000\r\n${'x'.repeat(1000)}\r\n`
      const fits = Math.floor((64 * 1024 - 20) / pub.length)
      ws.send(`CONNECT {"verbose":false,"pedantic":false}\r\n${pub.repeat(fits)}PING\r\n`)
      await eventually(() => text.join('').includes('PONG'), 5000, 'a PONG after a message of many commands')
      expect(t.broker?.router.stats.inMsgs).toBe(fits)
      const watcher = new WebSocket(t.wsUrl)
      await new Promise((resolve) => watcher.once('message', resolve))
      ws.send(pub.repeat(fits + 1))
      expect(await closed).toBe(1009)
      expect(t.broker?.router.stats.inMsgs).toBe(fits)
      expect(watcher.readyState).toBe(WebSocket.OPEN)
      watcher.close()
    } finally {
      await t.stop()
    }
  })
})

describe('nats.js over WebSocket with many subscriptions', () => {
  it('reconnects: it sends every SUB in one message, past a megabyte, and the rest waits while the first are read', async () => {
    await ensureWebSocketGlobal()
    const t = await startTickfan()
    // The TCP client first: nats.js keeps one transport factory for the process, set by the last
    // connect(), and a WebSocket client connected before it would reconnect over plain TCP.
    const tcp = await connect({ servers: t.natsUrl })
    const ws = await wsconnect({ servers: t.wsUrl, reconnectTimeWait: 50, maxReconnectAttempts: 20 })
    try {
      // 20,000 SUB lines of about 75 bytes: 1.4 MiB, sent in one WebSocket message after a reconnect,
      // and read 10,000 a second (--max-subscription-ops-per-sec): the parser holds the rest meanwhile.
      const subject = (i: number): string => `many.subscriptions.each.with.a.subject.long.enough.to.fill.a.megabyte.${i}`
      const subs = Array.from({ length: 20_000 }, (_, i) => ws.subscribe(subject(i)))
      await ws.flush()
      const reconnected = (async () => {
        for await (const s of ws.status()) if (s.type === 'reconnect') return true
        return false
      })()
      const router = t.broker?.router
      const wsClients = [...router?.clients.values() ?? []].filter((c) => c.transport.kind === 'websocket')
      for (const c of wsClients) c.closeWith(null, 'client closed')
      const gaveUp = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000))
      expect(await Promise.race([reconnected, gaveUp])).toBe(true)
      await ws.flush()
      await eventually(() => router?.stats.totalConnections === 3, 5000, 'the reconnection')
      tcp.publish(subject(19_999), 'after')
      const got = await subs[19_999]?.[Symbol.asyncIterator]().next()
      expect(new TextDecoder().decode(got?.value?.data)).toBe('after')
      expect(ws.isClosed()).toBe(false)
    } finally {
      await ws.close()
      await tcp.close()
      await t.stop()
    }
  })
})
