/**
 * Authentication and permissions: the pure rules, then the same checks against tickfan and a
 * real nats-server given the same authorization block, with the official client and at the
 * byte level (exact -ERR texts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAuthFile } from './auth-file.ts'
import { Authenticator, ConnectionRights, Permissions, ResponseGrants, type AuthorizationConfig } from './auth.ts'
import { isSubsetMatch } from './subjects.ts'
import { RawClient } from './test-support/raw-client.ts'
import { delay, eventually, startTickfan, targetsWithAuthorization, type Target } from './test-support/targets.ts'

describe('permission rules', () => {
  it.each([
    ['quote.*.BTC', 'quote.>', true],
    ['quote.>', 'quote.>', true],
    ['quote.>', 'quote.*', false],
    ['quote.a', 'quote.*', true],
    ['quote.*', 'quote.a', false],
    ['>', 'quote.>', false],
    ['quote', 'quote.>', false],
    ['a.b.c', '>', true]
  ])('%s is within %s: %s', (subject, pattern, expected) => {
    expect(isSubsetMatch(subject, pattern)).toBe(expected)
  })

  it('applies allow and deny lists to publish, subscribe and delivery', () => {
    const p = new Permissions({ publish: { allow: ['quote.>'], deny: ['quote.kraken.>'] }, subscribe: { allow: ['>'], deny: ['secret.>'] } }, 'test')
    expect(p.mayPublish('quote.binance.BTC-USD')).toBe(true)
    expect(p.mayPublish('quote.kraken.BTC-USD')).toBe(false)
    expect(p.mayPublish('trade.binance.BTC-USD')).toBe(false)
    expect(p.maySubscribe('quote.>')).toBe(true)
    expect(p.maySubscribe('secret.x')).toBe(false)
    expect(p.maySubscribe('>')).toBe(true) // overlaps the deny: allowed, filtered at delivery
    expect(p.mayReceive('public.x')).toBe(true)
    expect(p.mayReceive('secret.x')).toBe(false)
    const listOnly = new Permissions({ publish: ['a.>'] }, 'test')
    expect(listOnly.mayPublish('a.b')).toBe(true)
    expect(listOnly.mayPublish('b')).toBe(false)
  })

  it('refuses a bad configuration with a message that names the place', () => {
    expect(() => new Authenticator({ token: 't', users: [{ user: 'a', password: 'b' }] })).toThrow(/a token and users cannot both be set/)
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b' }, { user: 'a', password: 'c' }] })).toThrow(/users\[1\]: duplicate user "a"/)
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b' }], no_auth_user: 'z' })).toThrow(/no_auth_user: no user named "z"/)
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b', permissions: { publish: ['bad..subject'] } }] })).toThrow(/users\[0\]\.permissions\.publish: invalid subject "bad..subject"/)
    // A queue is named in subscribe rules only, and one at most.
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b', permissions: { publish: ['a q'] } }] })).toThrow(/publish: invalid subject "a q"/)
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b', permissions: { subscribe: ['a q r'] } }] })).toThrow(/subscribe: invalid subject "a q r"/)
    expect(() => new Authenticator({ users: [{ user: 'a', password: 'b', permissions: { subscribe: ['a q..r'] } }] })).toThrow(/subscribe: invalid subject "a q..r"/)
  })

  it('checks bcrypt passwords asynchronously, and remembers a verified one', async () => {
    const auth = new Authenticator({ users: [{ user: 'ops', password: bcrypt.hashSync('s3cret', 4) }] })
    const first = auth.authenticate({ user: 'ops', pass: 's3cret' })
    expect(first).toBeInstanceOf(Promise)
    expect(await first).toMatchObject({ ok: true, user: 'ops' })
    expect(auth.authenticate({ user: 'ops', pass: 's3cret' })).toMatchObject({ ok: true, user: 'ops' }) // cached: synchronous
    expect(await auth.authenticate({ user: 'ops', pass: 'wrong' })).toEqual({ ok: false })
    expect(await auth.authenticate({ user: 'nobody', pass: 's3cret' })).toEqual({ ok: false })
    expect(await auth.authenticate({})).toEqual({ ok: false })
  })
})

describe('response grants and connection rights', () => {
  it('grants max replies per request until they expire, and forgets the oldest past 4096', () => {
    const grants = new ResponseGrants({ max: 2, expiresMs: 100 })
    grants.grant('_INBOX.a', 0)
    expect(grants.use('_INBOX.a', 10)).toBe(true)
    expect(grants.use('_INBOX.a', 20)).toBe(true)
    expect(grants.use('_INBOX.a', 30)).toBe(false) // used up
    grants.grant('_INBOX.b', 0)
    expect(grants.use('_INBOX.b', 101)).toBe(false) // expired
    for (let i = 0; i < 4097; i++) grants.grant(`_INBOX.${i}`, 0)
    expect(grants.use('_INBOX.0', 1)).toBe(false)
    expect(grants.use('_INBOX.4096', 1)).toBe(true)
  })

  it('keeps a requester that floods from evicting the grants of another requester\'s requests', () => {
    const grants = new ResponseGrants({ max: 1, expiresMs: 0 })
    grants.grant('_INBOX.real', 0, 2)
    for (let i = 0; i < 60_000; i++) grants.grant(`_INBOX.flood.${i}`, 0, 1)
    expect(grants.use('_INBOX.real', 1)).toBe(true)
    expect(grants.use('_INBOX.flood.0', 1)).toBe(false) // the flooder's own oldest went
    expect(grants.use('_INBOX.flood.59999', 1)).toBe(true)
  })

  it('answers a request only by grant, never onto a protected subject, and refuses a protected reply subject', () => {
    const permissions = new Permissions({ publish: ['svc.>'], subscribe: ['svc.>'], allow_responses: true }, 'test')
    const rights = new ConnectionRights('svc', permissions, { isProtectedSubject: (s) => s.startsWith('quote.') })
    expect(rights.publishRefusal('_INBOX.x', undefined, () => 0)).toBe('PERMISSIONS_PUBLISH')
    expect(rights.receives({ subject: 'svc.ask', reply: '_INBOX.x', publisherCid: -1 }, () => 0)).toBe(true)
    expect(rights.receives({ subject: 'svc.ask', reply: 'quote.BTC', publisherCid: -1 }, () => 0)).toBe(true)
    expect(rights.publishRefusal('_INBOX.x', undefined, () => 1)).toBeNull()
    expect(rights.publishRefusal('_INBOX.x', undefined, () => 2)).toBe('PERMISSIONS_PUBLISH') // once
    expect(rights.publishRefusal('quote.BTC', undefined, () => 3)).toBe('PERMISSIONS_PUBLISH') // a grant never writes a price
    expect(rights.publishRefusal('svc.ask', 'quote.BTC', () => 4)).toBe('PERMISSIONS_REPLY')
  })
})

describe('the --auth file', () => {
  it('reads authorization and monitoring credentials', () => {
    const f = parseAuthFile('{"authorization":{"token":"t"},"monitoring":{"user":"ops","password":"p"}}', 'auth.json')
    expect(f).toEqual({ authorization: { token: 't' }, monitoringAuth: { user: 'ops', password: 'p' } })
  })

  it.each([
    ['{', /auth.json: not valid JSON/],
    ['[]', /auth.json: expected a JSON object/],
    ['{"authorisation":{}}', /auth.json: unknown key "authorisation"/],
    ['{"authorization":{"users":[{"user":"a","password":"b","permissions":{"subscribe":["a..b"]}}]}}', /auth.json: authorization.users\[0\].permissions.subscribe: invalid subject "a..b"/],
    ['{"monitoring":{"user":"ops"}}', /auth.json: monitoring must be/]
  ])('refuses %s, naming the place', (text, message) => {
    expect(() => parseAuthFile(text, 'auth.json')).toThrow(message)
  })
})

const PASSWORD_HASH = bcrypt.hashSync('feed-pass', 4)
const USERS: AuthorizationConfig = {
  users: [
    { user: 'feed', password: PASSWORD_HASH, permissions: { publish: ['quote.>', 'trade.>'], subscribe: { deny: ['>'] } } },
    { user: 'service', password: 'plain-pass', permissions: { publish: [], subscribe: ['price.>', '_INBOX.>'], allow_responses: true } },
    { user: 'ops', password: bcrypt.hashSync('ops-pass', 4), permissions: { publish: ['ops.>'], subscribe: ['ops.>'] } },
    { user: 'viewer', password: 'viewer-pass', permissions: { publish: ['price.>', '_INBOX.>'], subscribe: { allow: ['>'], deny: ['secret.>'] } } },
    // Queue rules, as nats-server writes them: "<subject> <queue>", the queue a name or a pattern.
    {
      user: 'worker',
      password: 'worker-pass',
      permissions: { subscribe: { allow: ['jobs.> workers', 'jobs.> v1.*', 'events.>'], deny: ['events.audit.> *', 'events.private.>'] } }
    }
  ],
  no_auth_user: 'viewer'
}

describe.each(targetsWithAuthorization(USERS))('users and permissions against $name', ({ start }) => {
  let target: Target
  const open: NatsConnection[] = []
  beforeAll(async () => { target = await start() })
  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => {})
    await target.stop()
  })
  const client = async (opts: { user?: string, pass?: string } = {}): Promise<NatsConnection> => {
    const nc = await connect({ servers: target.natsUrl, reconnect: false, ...opts })
    open.push(nc)
    return nc
  }

  it('does not say auth_required in INFO when a client without credentials is admitted as the no-auth user', async () => {
    const raw = await RawClient.connect(target.port)
    expect(raw.text).not.toMatch(/auth_required/)
    raw.close()
  })

  it('lets a user in with a bcrypt-hashed or a plain password, and refuses a wrong one', async () => {
    await client({ user: 'feed', pass: 'feed-pass' })
    await client({ user: 'service', pass: 'plain-pass' })
    await expect(connect({ servers: target.natsUrl, reconnect: false, user: 'feed', pass: 'nope' })).rejects.toThrow(/Authorization Violation/i)
    await expect(connect({ servers: target.natsUrl, reconnect: false, user: 'ghost', pass: 'x' })).rejects.toThrow(/Authorization Violation/i)
  })

  it('sends -ERR \'Authorization Violation\' and closes on a wrong password', async () => {
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {"verbose":false,"user":"feed","pass":"nope"}\r\nPING\r\n')
    await raw.closed
    expect(raw.afterInfo).toBe("-ERR 'Authorization Violation'\r\n")
  })

  it('holds what a client sends right after CONNECT until its password hash is checked, then runs it in order', async () => {
    const raw = await RawClient.connect(target.port)
    // First use of this user's password: tickfan checks the bcrypt hash asynchronously.
    raw.send('CONNECT {"verbose":false,"pedantic":false,"user":"ops","pass":"ops-pass"}\r\nSUB ops.> 1\r\nPUB ops.a 2\r\nhi\r\nPUB ops.b 2\r\nho\r\nPING\r\n')
    await raw.waitFor(/PONG\r\n/)
    expect(raw.afterInfo).toBe('MSG ops.a 1 2\r\nhi\r\nMSG ops.b 1 2\r\nho\r\nPONG\r\n')
    raw.close()
  })

  it('treats a client without credentials as the no-auth user: it may watch, not move prices', async () => {
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {"verbose":false,"pedantic":false}\r\nSUB quote.> 1\r\nPUB quote.binance.BTC-USD 1\r\nx\r\nSUB secret.> 2\r\nSUB secret.x q 3\r\nPING\r\n')
    await raw.waitFor(/PONG\r\n/)
    expect(raw.afterInfo).toBe("-ERR 'Permissions Violation for Publish to \"quote.binance.BTC-USD\"'\r\n" +
      "-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n" +
      "-ERR 'Permissions Violation for Subscription to \"secret.x\" using queue \"q\"'\r\n" +
      'PONG\r\n')
    expect(raw.isClosed).toBe(false) // a permissions violation keeps the connection open
    raw.close()
  })

  it('judges a queue subscription by the rules that name a queue, as nats-server 2.9 does', async () => {
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {"verbose":false,"pedantic":false,"user":"worker","pass":"worker-pass"}\r\n' +
      'SUB jobs.a 1\r\nSUB jobs.a workers 2\r\nSUB jobs.a others 3\r\nSUB jobs.a v1.x 4\r\nSUB jobs.* v2.x 5\r\n' +
      'SUB events.x 6\r\nSUB events.x any 7\r\nSUB events.audit.x 8\r\nSUB events.audit.x any 9\r\n' +
      'SUB events.private.x 10\r\nSUB events.private.x any 11\r\nPING\r\n')
    await raw.waitFor(/PONG\r\n/)
    const refused = (subject: string, queue?: string): string =>
      `-ERR 'Permissions Violation for Subscription to "${subject}"${queue === undefined ? '' : ` using queue "${queue}"`}'\r\n`
    expect(raw.afterInfo).toBe(refused('jobs.a') + refused('jobs.a', 'others') + refused('jobs.*', 'v2.x') +
      refused('events.audit.x', 'any') + refused('events.private.x') + refused('events.private.x', 'any') + 'PONG\r\n')
    raw.close()
  })

  it('delivers what a user may publish to those who may see it, and filters denied subjects from a wildcard', async () => {
    const feed = await client({ user: 'feed', pass: 'feed-pass' })
    const viewer = await client()
    const got: string[] = []
    viewer.subscribe('>', { callback: (_e, m) => { if (!m.subject.startsWith('_INBOX')) got.push(m.subject) } })
    await viewer.flush()
    feed.publish('quote.binance.BTC-USD', 'q')
    feed.publish('secret.plan', 's') // feed may not publish here: dropped with a -ERR
    const viewerPublisher = await client({ user: 'feed', pass: 'feed-pass' })
    viewerPublisher.publish('trade.kraken.BTC-USD', 't')
    await feed.flush()
    await viewerPublisher.flush()
    await eventually(() => got.length >= 2, 3000, 'two messages')
    await delay(100)
    expect(got.sort()).toEqual(['quote.binance.BTC-USD', 'trade.kraken.BTC-USD'])
  })

  it('lets a responder answer the requests it receives (allow_responses), and nothing else', async () => {
    const service = await client({ user: 'service', pass: 'plain-pass' })
    service.subscribe('price.BTC-USD', { callback: (_e, m) => { m.respond('42') } })
    await service.flush()
    const viewer = await client()
    const reply = await viewer.request('price.BTC-USD', '', { timeout: 2000 })
    expect(new TextDecoder().decode(reply.data)).toBe('42')
    const errors: string[] = []
    void (async () => { for await (const s of service.status()) if (s.type === 'error') errors.push(String(s.error.message)) })()
    service.publish('quote.binance.BTC-USD', 'x')
    await service.flush()
    await eventually(() => errors.length > 0, 3000, 'a permissions error')
    expect(errors[0]).toMatch(/Permissions Violation for Publish to "quote.binance.BTC-USD"/i)
  })
})

describe.each(targetsWithAuthorization({ token: 's3cret-token' }))('a token against $name', ({ start }) => {
  let target: Target
  beforeAll(async () => { target = await start() })
  afterAll(async () => { await target.stop() })

  it('says auth_required in INFO', async () => {
    const raw = await RawClient.connect(target.port)
    expect(raw.text).toMatch(/"auth_required":true/)
    raw.close()
  })

  it('admits the right token and refuses a wrong or missing one', async () => {
    const nc = await connect({ servers: target.natsUrl, token: 's3cret-token', reconnect: false })
    await nc.flush()
    await nc.close()
    await expect(connect({ servers: target.natsUrl, token: 'wrong', reconnect: false })).rejects.toThrow(/Authorization Violation/i)
    await expect(connect({ servers: target.natsUrl, reconnect: false })).rejects.toThrow(/Authorization Violation/i)
  })
})

describe('the connect timeout and password checks', () => {
  // The timeout is for CONNECT to arrive, not for the broker to finish checking it: bcrypt
  // checks run one at a time, so clients arriving together wait for each other's. The demo's
  // clients, started at once on a loaded machine, were told "Authentication Timeout" that way.
  let t: Target
  beforeAll(async () => {
    t = await startTickfan({
      connectTimeoutMs: 100,
      authorization: { users: [{ user: 'feed', password: bcrypt.hashSync('feed-pass', 10) }] }
    })
  })
  afterAll(async () => { await t?.stop() })

  it('lets in every client whose CONNECT came in time, however long the checks queued behind each other took', async () => {
    const started = Date.now()
    const clients = await Promise.all(Array.from({ length: 8 }, async () =>
      await connect({ servers: t.natsUrl, user: 'feed', pass: 'feed-pass', reconnect: false })))
    // Eight bcrypt checks of cost 10, one after another, take longer than the 100 ms timeout.
    expect(Date.now() - started).toBeGreaterThan(100)
    for (const nc of clients) {
      await nc.flush()
      await nc.close()
    }
    expect(t.broker?.router.stats.protocolErrors.AUTH_TIMEOUT ?? 0).toBe(0)
  })
})
