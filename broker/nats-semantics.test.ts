/**
 * Plain NATS semantics, run against tickfan and against a real nats-server started here: the
 * official clients must see the same behaviour from both.
 */
import { connect as connectV2, headers as headersV2, StringCodec } from 'nats'
import { connect, headers, errors, wsconnect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { RawClient } from './test-support/raw-client.ts'
import { TARGETS, delay, ensureWebSocketGlobal, type Target } from './test-support/targets.ts'

const sc = StringCodec()

async function collect (
  iter: AsyncIterable<{ subject: string, string (): string }>,
  n: number,
  timeoutMs = 3000
): Promise<string[]> {
  const out: string[] = []
  const timer = delay(timeoutMs).then(() => 'timeout')
  const reader = (async () => {
    for await (const m of iter) {
      out.push(`${m.subject}:${m.string()}`)
      if (out.length >= n) break
    }
    return 'done'
  })()
  await Promise.race([reader, timer])
  return out
}

describe.each(TARGETS)('NATS semantics against $name', ({ start }) => {
  let target: Target
  let nc: NatsConnection

  beforeAll(async () => {
    target = await start()
    nc = await connect({ servers: target.natsUrl })
  })
  afterAll(async () => {
    await nc?.close()
    await target?.stop()
  })

  it('delivers to literal, * and > subscriptions, and not to others', async () => {
    const exact = nc.subscribe('sem.a.b')
    const star = nc.subscribe('sem.*.b')
    const tail = nc.subscribe('sem.>')
    const other = nc.subscribe('sem.a.c')
    await nc.flush()
    nc.publish('sem.a.b', 'one')
    nc.publish('sem.x.y.z', 'two')
    await nc.flush()
    expect(await collect(exact, 1)).toEqual(['sem.a.b:one'])
    expect(await collect(star, 1)).toEqual(['sem.a.b:one'])
    expect(await collect(tail, 2)).toEqual(['sem.a.b:one', 'sem.x.y.z:two'])
    expect(await collect(other, 1, 200)).toEqual([])
    for (const s of [exact, star, tail, other]) s.unsubscribe()
  })

  it('gives each queue group one copy per message, spread over its members, and every plain subscriber its own', async () => {
    const members = [0, 1, 2].map(() => nc.subscribe('work.q', { queue: 'workers' }))
    const plain = nc.subscribe('work.q')
    const counts = [0, 0, 0]
    const done = members.map((sub, i) => (async () => {
      for await (const _ of sub) counts[i] = (counts[i] ?? 0) + 1
    })())
    await nc.flush()
    for (let i = 0; i < 300; i++) nc.publish('work.q', String(i))
    await nc.flush()
    expect((await collect(plain, 300)).length).toBe(300)
    await delay(100)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(300)
    for (const c of counts) expect(c).toBeGreaterThan(30)
    for (const s of [...members, plain]) s.unsubscribe()
    await Promise.all(done)
  })

  it('answers a request through a responder, and reports no responders with a 503', async () => {
    const responder = nc.subscribe('svc.echo')
    void (async () => { for await (const m of responder) m.respond(`echo ${m.string()}`) })()
    await nc.flush()
    const reply = await nc.request('svc.echo', 'hi', { timeout: 2000 })
    expect(reply.string()).toBe('echo hi')
    responder.unsubscribe()
    await expect(nc.request('svc.nobody', 'hi', { timeout: 2000 })).rejects.toSatisfy((err: unknown) => {
      return err instanceof errors.NoRespondersError || (err as Error).cause instanceof errors.NoRespondersError
    })
  })

  it('carries headers unchanged', async () => {
    const sub = nc.subscribe('hdr.x', { max: 1 })
    await nc.flush()
    const h = headers()
    h.set('Trace-Id', 'abc-123')
    h.append('Multi', 'one')
    h.append('Multi', 'two')
    nc.publish('hdr.x', 'body', { headers: h })
    for await (const m of sub) {
      expect(m.headers?.get('Trace-Id')).toBe('abc-123')
      expect(m.headers?.values('Multi')).toEqual(['one', 'two'])
      expect(m.string()).toBe('body')
    }
  })

  it('ends a subscription after its max messages (UNSUB with max)', async () => {
    const sub = nc.subscribe('max.x', { max: 3 })
    await nc.flush()
    for (let i = 0; i < 10; i++) nc.publish('max.x', String(i))
    await nc.flush()
    const got = await collect(sub, 10, 500)
    expect(got).toEqual(['max.x:0', 'max.x:1', 'max.x:2'])
  })

  it("counts /connz in_bytes and out_bytes as nats-server does: the messages' headers and payloads", async () => {
    const pub = await connect({ servers: target.natsUrl, name: 'bytes-pub' })
    const sub = await connect({ servers: target.natsUrl, name: 'bytes-sub' })
    const got = sub.subscribe('bytes.x', { max: 3 })
    await sub.flush()
    const h = headers()
    h.set('K', 'v') // a header block of 'NATS/1.0\r\nK: v\r\n\r\n', 18 bytes
    pub.publish('bytes.x', 'a'.repeat(100))
    pub.publish('bytes.x', 'b'.repeat(50))
    pub.publish('bytes.x', 'c'.repeat(10), { headers: h })
    await pub.flush()
    expect(await collect(got, 3)).toHaveLength(3)
    const connz = await (await fetch(`${target.httpUrl}/connz`)).json() as { connections: Array<{ name: string, in_bytes: number, out_bytes: number }> }
    const byName = Object.fromEntries(connz.connections.map((c) => [c.name, c]))
    expect(byName['bytes-pub']?.in_bytes).toBe(100 + 50 + 10 + 18)
    expect(byName['bytes-sub']?.out_bytes).toBe(100 + 50 + 10 + 18)
    await pub.close()
    await sub.close()
  })

  it('does not echo a publisher its own messages when it asks not to', async () => {
    const quiet = await connect({ servers: target.natsUrl, noEcho: true })
    const own = quiet.subscribe('echo.x')
    const other = nc.subscribe('echo.x')
    await quiet.flush()
    await nc.flush()
    quiet.publish('echo.x', 'm')
    await quiet.flush()
    expect(await collect(other, 1)).toEqual(['echo.x:m'])
    expect(await collect(own, 1, 300)).toEqual([])
    await quiet.close()
    other.unsubscribe()
  })

  it('works with the nats v2 client too', async () => {
    const v2 = await connectV2({ servers: target.natsUrl })
    const sub = v2.subscribe('v2.>', { max: 1 })
    await v2.flush()
    const h = headersV2()
    h.set('K', 'v')
    v2.publish('v2.x', sc.encode('from v2'), { headers: h })
    for await (const m of sub) {
      expect(sc.decode(m.data)).toBe('from v2')
      expect(m.headers?.get('K')).toBe('v')
    }
    await v2.close()
  })

  it('works over WebSocket with nats.js wsconnect', async () => {
    await ensureWebSocketGlobal()
    const ws = await wsconnect({ servers: target.wsUrl })
    const sub = ws.subscribe('ws.>', { max: 2 })
    await ws.flush()
    nc.publish('ws.a', 'from tcp')
    await nc.flush()
    ws.publish('ws.b', 'from ws')
    const got = await collect(sub, 2)
    expect(got).toEqual(['ws.a:from tcp', 'ws.b:from ws'])
    await ws.close()
  })

  it('takes a WebSocket message holding more than the largest payload: nats.js flushes what it has pending in one', async () => {
    await ensureWebSocketGlobal()
    const ws = await wsconnect({ servers: target.wsUrl })
    const largest = ws.info?.max_payload ?? 0
    const sub = nc.subscribe('batch.>', { max: 2 })
    await nc.flush()
    // The first waits for a microtask; the second takes the pending bytes past 32 KiB and both go at once.
    ws.publish('batch.small', new Uint8Array(30 * 1024))
    ws.publish('batch.largest', new Uint8Array(largest - 1024))
    const sizes: number[] = []
    const both = (async () => { for await (const m of sub) sizes.push(m.data.length) })()
    await Promise.race([both, delay(5000)])
    expect(sizes).toEqual([30 * 1024, largest - 1024])
    await ws.flush()
    expect(ws.isClosed()).toBe(false)
    await ws.close()
  })

  it('reads a WebSocket text frame as bytes, UTF-8 or not', async () => {
    const ws = new WebSocket(target.wsUrl)
    let got = Buffer.alloc(0)
    ws.on('message', (data: Buffer) => { got = Buffer.concat([got, data]) })
    const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)))
    await new Promise((resolve) => ws.once('open', resolve))
    ws.send(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\nSUB text 1\r\nPUB text 1\r\n\xff\r\nPING\r\n', 'latin1'),
      { binary: false })
    for (let i = 0; i < 100 && !got.includes('PONG\r\n'); i++) await delay(20)
    expect(got.toString('latin1')).toContain('MSG text 1 1\r\n\xff\r\nPONG\r\n')
    ws.close(1000)
    expect(await closed).toBe(1000)
  })

  describe('at the protocol level', () => {
    it.each([
      ['acknowledges with +OK when verbose and answers PING with PONG',
        'CONNECT {"verbose":true,"pedantic":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\nPING\r\n',
        '+OK\r\n+OK\r\n+OK\r\nMSG a 1 1\r\nx\r\n+OK\r\nPONG\r\n'],
      ['rejects invalid subjects with -ERR and keeps the connection open',
        'CONNECT {"verbose":false,"pedantic":false}\r\nSUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo* 3\r\nPING\r\n',
        "-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\n"],
      ['routes a publish subject with an empty token to nobody, and says so to a pedantic client',
        'CONNECT {"verbose":false,"pedantic":true}\r\nSUB > 1\r\nPUB a..b 1\r\nx\r\nPUB a.b. 1\r\nx\r\nPUB .a 1\r\nx\r\nPING\r\n',
        "-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\nPONG\r\n"],
      ['routes a publish subject with an empty token to nobody, silently to a client that is not pedantic',
        'CONNECT {"verbose":false,"pedantic":false}\r\nSUB > 1\r\nPUB a..b 1\r\nx\r\nPUB a.b. 1\r\nx\r\nPUB .a 1\r\nx\r\nPING\r\n',
        'PONG\r\n'],
      ['acknowledges a verbose, pedantic client\'s publish to an invalid subject after its -ERR, as nats-server does',
        'CONNECT {"verbose":true,"pedantic":true}\r\nSUB > 1\r\nPUB a..b 1\r\nx\r\nPING\r\n',
        "+OK\r\n+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n"],
      ['rejects a wildcard publish subject in pedantic mode',
        'CONNECT {"verbose":false,"pedantic":true}\r\nPUB a.* 1\r\nx\r\nPING\r\n',
        "-ERR 'Invalid Publish Subject'\r\nPONG\r\n"],
      ['answers a PING after a SUB before it delivers what the client published after the PING',
        'CONNECT {"verbose":false,"pedantic":false}\r\nSUB a 1\r\nPING\r\nPUB a 1\r\nx\r\nSUB b 2\r\nPUB c 1\r\ny\r\nPING\r\nPUB b 1\r\nz\r\nPING\r\n',
        'PONG\r\nMSG a 1 1\r\nx\r\nPONG\r\nMSG b 2 1\r\nz\r\nPONG\r\n'],
      ['ignores a SUB that repeats a sid, whatever its subject, and checks a new sid\'s subject',
        'CONNECT {"verbose":false,"pedantic":false}\r\nSUB a 1\r\nSUB a..b 1\r\nSUB >.x 1\r\nSUB >.x 2\r\nPUB a 1\r\nx\r\nPING\r\n',
        "-ERR 'Invalid Subject'\r\nMSG a 1 1\r\nx\r\nPONG\r\n"],
      ['sends the no-responders status bytes nats-server sends',
        'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.x.* 1\r\nPUB nobody _INBOX.x.1 1\r\nx\r\nPING\r\n',
        'HMSG _INBOX.x.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n']
    ])('%s', async (_name, input, expected) => {
      const raw = await RawClient.connect(target.port)
      raw.send(input)
      const pings = input.split('PING\r\n').length - 1
      await raw.waitFor((text) => text.split('PONG\r\n').length - 1 >= pings)
      expect(raw.afterInfo).toBe(expected)
      raw.close()
    })

    it.each([
      ['an unknown operation', 'FOO bar\r\n', "-ERR 'Unknown Protocol Operation'\r\n"],
      ['a payload longer than declared', 'PUB foo 2\r\nhiXX\r\n', "-ERR 'Unknown Protocol Operation'\r\n"],
      ['a payload over max_payload', 'PUB a 2000000\r\n', "-ERR 'Maximum Payload Violation'\r\n"],
      ['a control line over the limit', `SUB ${'a'.repeat(5000)} 1\r\n`, "-ERR 'maximum control line exceeded'\r\n"],
      ['no_responders without headers', '', "-ERR 'no responders requires headers support'\r\n"],
      // What the commands before the bad one produced goes first: it was dropped, -ERR alone.
      ['an unknown operation after a publish to itself and a PING', 'SUB own 1\r\nPUB own 1\r\nx\r\nPING\r\nFOO\r\n',
        "MSG own 1 1\r\nx\r\nPONG\r\n-ERR 'Unknown Protocol Operation'\r\n"]
    ])('closes the connection on %s with nats-server\'s error', async (name, input, expected) => {
      const raw = await RawClient.connect(target.port)
      const connect = name.startsWith('no_responders') ? '{"no_responders":true,"headers":false}' : '{"verbose":false}'
      raw.send(`CONNECT ${connect}\r\n${input}`)
      await raw.closed
      expect(raw.afterInfo).toBe(expected)
    })

    it('survives a client that disconnects in the middle of a message, for everyone else', async () => {
      const sub = nc.subscribe('mid.x', { max: 1 })
      await nc.flush()
      const raw = await RawClient.connect(target.port)
      raw.send('CONNECT {"verbose":false}\r\nPUB mid.x 100\r\nonly part')
      await delay(50)
      raw.close()
      nc.publish('mid.x', 'whole')
      expect(await collect(sub, 1)).toEqual(['mid.x:whole'])
    })
  })
})
