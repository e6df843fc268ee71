/**
 * The broker attacked as an attacker would, with raw sockets, side by side with a real
 * nats-server under the same users and permissions (the demo's, plus a `secret.>` the viewer
 * may not see). Each attack asserts that nothing leaks and nothing is cached that should not be.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { AuthorizationConfig } from './auth.ts'
import { startBrokerCommand, type CommandProcess } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { delay, eventually, startTickfan, targetsWithAuthorization, type Target } from './test-support/targets.ts'

const FEED = { user: 'feed', pass: 'feed-pass' }
const FEED_USER = { user: 'feed', password: bcrypt.hashSync('feed-pass', 4), permissions: { publish: ['quote.>', 'trade.>', 'secret.>'], subscribe: { deny: ['>'] } } }
const VIEWER_USER = { user: 'viewer', password: 'viewer-pass', permissions: { publish: ['price.>', '_INBOX.>'], subscribe: { allow: ['>'], deny: ['secret.>'] } } }
const ADMIN_USER = { user: 'admin', password: 'admin-pass' }

/** The three ways authorization can be set up: a no-auth user, users only, a token. */
const CONFIGS: ReadonlyArray<{ label: string, config: AuthorizationConfig }> = [
  { label: 'users with a no-auth viewer', config: { users: [FEED_USER, VIEWER_USER, ADMIN_USER], no_auth_user: 'viewer' } },
  { label: 'users only', config: { users: [FEED_USER, VIEWER_USER, ADMIN_USER] } },
  { label: 'a token', config: { token: 's3cret-token' } }
]

/** Commands sent with no CONNECT at all: a denied subscription, a forged quote and trade, a PING. */
const PRE_CONNECT_ATTACK = 'SUB secret.> 7\r\nSUB quote.> 8\r\nPUB quote.binance.BTC-USD 6\r\nforged\r\nPUB trade.binance.BTC-USD 6\r\nforged\r\nPING\r\n'

/** What nats-server 2.9.10 answers to PRE_CONNECT_ATTACK, by configuration (checked against it below). */
const PRE_CONNECT_ANSWER: Record<string, string> = {
  'users with a no-auth viewer': "-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n+OK\r\n" +
    "-ERR 'Permissions Violation for Publish to \"quote.binance.BTC-USD\"'\r\n" +
    "-ERR 'Permissions Violation for Publish to \"trade.binance.BTC-USD\"'\r\nPONG\r\n",
  'users only': "-ERR 'Authorization Violation'\r\n",
  'a token': "-ERR 'Authorization Violation'\r\n"
}

/** The control lines of what a server sent (messages left out: tickfan adds its snapshot). */
function controlLines (text: string): string {
  const lines: string[] = []
  let at = text.indexOf('\r\n') + 2 // after INFO
  while (at < text.length) {
    const eol = text.indexOf('\r\n', at)
    if (eol < 0) break
    const line = text.slice(at, eol)
    at = eol + 2
    if (line.startsWith('MSG ') || line.startsWith('HMSG ')) at += Number(line.slice(line.lastIndexOf(' ') + 1)) + 2
    else lines.push(`${line}\r\n`)
  }
  return lines.join('')
}

/** A WebSocket client at the frame level: text in, everything the server sent as text out. */
async function rawWebSocket (url: string): Promise<{
  send: (t: string) => void,
  text: () => string,
  closed: Promise<void>,
  close: () => void
}> {
  const ws = new WebSocket(url)
  let received = ''
  ws.on('message', (data: Buffer) => { received += data.toString('latin1') })
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return { send: (t) => ws.send(t), text: () => received, closed, close: () => ws.terminate() }
}

/** Waits until `check` holds or `ms` pass; returns whether it held. */
async function within (ms: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await delay(10)
  return check()
}

for (const { label, config } of CONFIGS) {
  describe.each(targetsWithAuthorization(config))(`commands before CONNECT (${label}) against $name`, ({ name, start }) => {
    let target: Target
    let watcher: NatsConnection
    const seen: string[] = []
    beforeAll(async () => {
      target = await start()
      // A legitimate subscriber with every right: it must never see the forged messages.
      watcher = await connect({ servers: target.natsUrl, reconnect: false, ...(config.token !== undefined ? { token: config.token } : { user: 'admin', pass: 'admin-pass' }) })
      watcher.subscribe('>', { callback: (_e, m) => { seen.push(`${m.subject} ${m.string()}`) } })
      await watcher.flush()
    })
    afterAll(async () => {
      await watcher.close()
      await target.stop()
    })

    const expectNothingForged = async (): Promise<void> => {
      // A round trip through a real publisher: anything forged was routed before this arrives.
      const feed = await connect({
        servers: target.natsUrl,
        reconnect: false,
        ...(config.token !== undefined ? { token: config.token } : FEED)
      })
      feed.publish('quote.binance.BTC-USD', 'real')
      await feed.flush()
      await within(2000, () => seen.includes('quote.binance.BTC-USD real'))
      await feed.close()
      expect(seen.filter((m) => m.endsWith('forged'))).toEqual([])
      if (target.broker !== null) {
        const cached = target.broker.router.lastValues.get('quote.binance.BTC-USD')
        expect(cached?.body.toString('latin1', cached.headerBytes)).not.toMatch(/forged/)
      }
    }

    it('over TCP: answers as nats-server does, routes nothing forged, and delivers nothing denied', async () => {
      const raw = await RawClient.connect(target.port)
      raw.send(PRE_CONNECT_ATTACK)
      const expected = PRE_CONNECT_ANSWER[label] as string
      await within(3000, () => controlLines(raw.text).length >= expected.length || raw.isClosed)
      expect(controlLines(raw.text)).toBe(expected)
      if (expected.includes('Authorization Violation')) {
        await raw.closed
      } else {
        // The no-auth viewer may subscribe to quote.>: a real quote reaches it; secret.> never does.
        const feed = await connect({ servers: target.natsUrl, reconnect: false, ...FEED })
        feed.publish('secret.plan', 'hidden')
        feed.publish('quote.kraken.ETH-USD', 'visible')
        await feed.flush()
        await raw.waitFor(/visible/)
        expect(raw.text).not.toMatch(/hidden/)
        await feed.close()
        raw.close()
      }
      await expectNothingForged()
    })

    it('over WebSocket: the same answer and nothing forged', async () => {
      const ws = await rawWebSocket(target.wsUrl)
      await within(3000, () => ws.text().includes('\r\n'))
      ws.send(PRE_CONNECT_ATTACK)
      const expected = PRE_CONNECT_ANSWER[label] as string
      await within(3000, () => controlLines(ws.text()).length >= expected.length)
      expect(controlLines(ws.text())).toBe(expected)
      if (expected.includes('Authorization Violation')) await ws.closed
      else ws.close()
      await expectNothingForged()
    })

    it(`${name}: a CONNECT with the right credentials still works afterwards on a new connection`, async () => {
      const nc = await connect({
        servers: target.natsUrl,
        reconnect: false,
        ...(config.token !== undefined ? { token: config.token } : FEED)
      })
      await nc.flush()
      await nc.close()
    })
  })
}

describe('commands before CONNECT on a broker with two workers', () => {
  let broker: CommandProcess
  let port: number
  let dir: string
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-adversary-'))
    const authFile = path.join(dir, 'auth.json')
    writeFileSync(authFile, JSON.stringify({ authorization: CONFIGS[0]?.config }))
    ;({ broker, port } = await startBrokerCommand(['--workers', '2', '--auth', authFile]))
  }, 40_000)
  afterAll(async () => {
    await broker.stop('SIGINT')
    rmSync(dir, { recursive: true, force: true })
  })

  it('gives every connection, whichever worker it lands on, the no-auth user\'s rights and no more', async () => {
    const raws = await Promise.all(Array.from({ length: 4 }, async () => await RawClient.connect(port)))
    const workers = new Set(raws.map((r) => /"server_id":"[^"]*W(\d+)"/.exec(r.text)?.[1]))
    expect(workers.size).toBe(2)
    const expected = PRE_CONNECT_ANSWER['users with a no-auth viewer'] as string
    for (const raw of raws) raw.send(PRE_CONNECT_ATTACK)
    for (const raw of raws) {
      await within(3000, () => controlLines(raw.text).length >= expected.length)
      expect(controlLines(raw.text)).toBe(expected)
      raw.close()
    }
  })
})

describe('reply subjects cannot write prices or trades (tickfan; nats-server has no cache and forwards such a request)', () => {
  const SERVICE_USER = { user: 'service', password: 'service-pass', permissions: { publish: [], subscribe: ['price.>', '_INBOX.>'], allow_responses: true } }
  let target: Target
  let service: NatsConnection
  let requests = 0
  beforeAll(async () => {
    target = await startTickfan({ authorization: { users: [FEED_USER, VIEWER_USER, ADMIN_USER, SERVICE_USER], no_auth_user: 'viewer' } })
    service = await connect({ servers: target.natsUrl, reconnect: false, user: 'service', pass: 'service-pass' })
    service.subscribe('price.>', { callback: (_e, m) => { requests++; m.respond('forged') } })
    await service.flush()
    const feed = await connect({ servers: target.natsUrl, reconnect: false, ...FEED })
    feed.publish('quote.binance.BTC-USD', 'real')
    await feed.flush()
    await feed.close()
  })
  afterAll(async () => {
    await service.close()
    await target.stop()
  })
  const cached = (): string | undefined => { const m = target.broker?.router.lastValues.get('quote.binance.BTC-USD'); return m?.body.toString('latin1', m.headerBytes, m.body.length - 2) }

  it('refuses, at request time, a request whose reply subject is a quote the requester may not publish', async () => {
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {"verbose":false,"pedantic":false}\r\nPUB price.BTC-USD quote.binance.BTC-USD 0\r\n\r\nPUB price.BTC-USD trade.binance.BTC-USD 0\r\n\r\nPING\r\n')
    await raw.waitFor(/PONG\r\n/)
    expect(controlLines(raw.text)).toBe("-ERR 'Permissions Violation for Reply Subject \"quote.binance.BTC-USD\"'\r\n" +
      "-ERR 'Permissions Violation for Reply Subject \"trade.binance.BTC-USD\"'\r\nPONG\r\n")
    await service.flush()
    expect(requests).toBe(0)
    expect(cached()).toBe('real')
    raw.close()
  })

  it('never lets a response grant write a quote, even for a requester who may publish there', async () => {
    const admin = await connect({ servers: target.natsUrl, reconnect: false, user: 'admin', pass: 'admin-pass' })
    const errors: string[] = []
    void (async () => { for await (const s of service.status()) if (s.type === 'error') errors.push(String(s.error.message)) })()
    admin.publish('price.BTC-USD', '', { reply: 'quote.binance.BTC-USD' })
    await admin.flush()
    await eventually(() => requests === 1, 3000, 'the request to reach the service')
    await eventually(() => errors.length > 0, 3000, 'the service to be refused')
    expect(errors[0]).toMatch(/Permissions Violation for Publish to "quote.binance.BTC-USD"/i)
    expect(cached()).toBe('real')
    await admin.close()
  })

  it('still answers ordinary requests', async () => {
    const viewer = await connect({ servers: target.natsUrl, reconnect: false })
    const reply = await viewer.request('price.BTC-USD', '', { timeout: 2000 })
    expect(reply.string()).toBe('forged') // the service's answer, to the requester's inbox
    await viewer.close()
  })
})

describe('what a publisher with the right to publish still cannot do (tickfan)', () => {
  let target: Target
  beforeAll(async () => {
    target = await startTickfan({ lastValueSequenceHoldMs: 300 })
  })
  afterAll(async () => { await target.stop() })
  const cachedSubjects = (): string[] => target.broker?.router.lastValues.snapshot('>').map((m) => m.subject) ?? []

  it('caches and delivers nothing for a subject nats-server refuses (an empty token, a trailing dot, a wildcard)', async () => {
    const watcher = await RawClient.connect(target.port)
    watcher.send('CONNECT {"verbose":false,"pedantic":false}\r\nSUB > 1\r\nPING\r\n')
    await watcher.waitFor(/PONG\r\n/)
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {"verbose":false,"pedantic":false}\r\n' +
      'PUB quote..BTC 1\r\nx\r\nPUB quote.binance. 1\r\nx\r\nPUB .quote.x 1\r\nx\r\nPUB quote.* 1\r\nx\r\nPUB quote.> 1\r\nx\r\nPUB quote.ok 2\r\nok\r\nPING\r\n')
    await raw.waitFor(/PONG\r\n/)
    await watcher.waitFor((t) => t.includes('MSG quote.ok'))
    expect(cachedSubjects()).toEqual(['quote.ok'])
    expect(watcher.text.match(/MSG (\S+)/g)).toEqual(['MSG quote.ok'])
    raw.close()
    watcher.close()
  })

  it('cannot pin a quote with a sequence far ahead: a lower one gets in once the pinned value has stood for the hold time', async () => {
    const feed = await connect({ servers: target.natsUrl, reconnect: false })
    const withSeq = (seq: number): ReturnType<typeof headers> => { const h = headers(); h.set('Tickfan-Seq', String(seq)); return h }
    feed.publish('quote.pin.BTC', 'pinned', { headers: withSeq(Number.MAX_SAFE_INTEGER) })
    feed.publish('quote.pin.BTC', 'real 1', { headers: withSeq(1) })
    await feed.flush()
    const payload = (): string | undefined => { const m = target.broker?.router.lastValues.get('quote.pin.BTC'); return m?.body.toString('latin1', m.headerBytes, m.body.length - 2) }
    expect(payload()).toBe('pinned')
    await delay(350)
    feed.publish('quote.pin.BTC', 'real 2', { headers: withSeq(2) })
    await feed.flush()
    expect(payload()).toBe('real 2')
    await feed.close()
  })

  it('cannot forge Tickfan-Conflated: the broker takes it out, and only the broker sets it', async () => {
    const sub = await connect({ servers: target.natsUrl, reconnect: false })
    const got: Array<string | undefined> = []
    sub.subscribe('quote.forge.BTC', { callback: (_e, m) => { got.push(m.headers?.get('Tickfan-Conflated')) } })
    await sub.flush()
    const raw = await RawClient.connect(target.port)
    const block = 'NATS/1.0\r\ntickfan-conflated: 99\r\nTickfan-Conflated: 7\r\nX: y\r\n\r\n'
    raw.send(`CONNECT {"verbose":false,"headers":true}\r\nHPUB quote.forge.BTC ${block.length} ${block.length + 2}\r\n${block}hi\r\nPING\r\n`)
    await raw.waitFor(/PONG\r\n/)
    await eventually(() => got.length === 1, 3000, 'the message')
    expect(got).toEqual([''])
    const cachedMsg = target.broker?.router.lastValues.get('quote.forge.BTC')
    expect(cachedMsg?.body.toString('latin1')).toBe('NATS/1.0\r\nX: y\r\n\r\nhi\r\n')
    raw.close()
    await sub.close()
  })

  it('cannot silence nats.js subscribers with a header block they cannot read: refused with the reason, the rest reads on', async () => {
    // nats-server relays this block; a nats.js subscriber that reads `headers` then throws inside its read loop
    // and reads nothing more (reports/broker/header-blocks.md).
    const sub = await connect({ servers: target.natsUrl, reconnect: false })
    const got: string[] = []
    sub.subscribe('quote.hdr.BTC', { callback: (_e, m) => { got.push(`${m.string()} ${m.headers?.get('X') ?? '-'}`) } })
    await sub.flush()
    const raw = await RawClient.connect(target.port)
    const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'
    raw.send(`CONNECT {"verbose":false,"headers":true}\r\nHPUB quote.hdr.BTC ${block.length} ${block.length + 3}\r\n${block}bad\r\n`)
    await raw.waitFor(/-ERR .*\r\n/)
    await raw.closed
    expect(raw.afterInfo).toBe("-ERR 'Invalid Header Block (byte 32 in a header name at byte 13)'\r\n")
    expect(target.broker?.router.lastValues.get('quote.hdr.BTC')).toBeUndefined()
    const good = headers()
    good.set('X', 'y')
    const feed = await connect({ servers: target.natsUrl, reconnect: false })
    feed.publish('quote.hdr.BTC', 'good', { headers: good })
    await feed.flush()
    await eventually(() => got.length === 1, 3000, 'the good message')
    expect(got).toEqual(['good y'])
    expect(sub.isClosed()).toBe(false)
    await feed.close()
    await sub.close()
  })
})
