/**
 * Faults, mid-stream, with every component a real process or socket: the broker killed and
 * restarted, a feed handler killed and restarted, and clients that misbehave at the protocol
 * level (half a command, then silence). Each time the rest recovers or carries on undisturbed.
 * (A venue restart and a stalled venue are in feeds/feeds.test.ts; a subscriber that stops
 * reading at the TCP level is in broker/market-data.test.ts.)
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { freePorts } from '../lib/ports.ts'
import { runCommand, startBrokerCommand, type CommandProcess } from '../broker/test-support/processes.ts'
import { RawClient } from '../broker/test-support/raw-client.ts'
import { delay, eventually, startTickfan } from '../broker/test-support/targets.ts'
import { parseTick, type QuoteTick } from '../feeds/tick.ts'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const INSTRUMENTS = ['BTC-USD', 'ETH-USD', 'SOL-USD']
const SUBJECTS = ['binance', 'kraken'].flatMap((v) => INSTRUMENTS.map((s) => `quote.${v}.${s}`))

/** On ports chosen below the ephemeral range, so that a restart finds them free again. */
async function startBrokerProcess (port: number, httpPort: number): Promise<CommandProcess> {
  const { broker } = await startBrokerCommand(['--workers', '1', '--port', String(port), `--http-port=${httpPort}`])
  cleanups.push(() => broker.stop('SIGKILL'))
  return broker
}

function startFeedsProcess (natsUrl: string): CommandProcess {
  const feeds = runCommand('feeds/main.ts', ['--nats', natsUrl, '--venues', 'binance,kraken', '--instruments', INSTRUMENTS.join(','), '--rate', '100', '--no-bursty'])
  cleanups.push(() => feeds.stop('SIGKILL'))
  return feeds
}

/** A subscriber that keeps the newest quote per subject, reconnecting forever. */
async function quoteWatcher (natsUrl: string): Promise<{
  nc: NatsConnection,
  latest: Map<string,
  QuoteTick>,
  received: () => number
}> {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100, pingInterval: 1000 })
  cleanups.push(() => nc.close())
  const latest = new Map<string, QuoteTick>()
  let received = 0
  nc.subscribe('quote.>', {
    callback: (_e, m) => {
      const r = parseTick(m.data)
      if (r.ok && r.tick.type === 'quote') { latest.set(m.subject, r.tick); received++ }
    }
  })
  await nc.flush()
  return { nc, latest, received: () => received }
}

/** Quotes a new subscriber gets at once: the broker's snapshot. */
async function snapshot (natsUrl: string): Promise<Set<string>> {
  const nc = await connect({ servers: natsUrl })
  const subjects = new Set<string>()
  nc.subscribe('quote.>', { callback: (_e, m) => { subjects.add(m.subject) } })
  await nc.flush()
  await delay(100)
  await nc.close()
  return subjects
}

describe('faults', () => {
  it('the broker is killed mid-stream and restarted: clients reconnect, resubscribe, and the state is whole again within seconds', async () => {
    const [port, httpPort] = await freePorts(2)
    const natsUrl = `nats://127.0.0.1:${port}`
    let broker = await startBrokerProcess(port, httpPort)
    startFeedsProcess(natsUrl)
    const watcher = await quoteWatcher(natsUrl)
    await eventually(() => SUBJECTS.every((s) => watcher.latest.has(s)), 20_000, 'every subject before the crash')

    await broker.stop('SIGKILL') // a crash: no goodbye to anyone
    const beforeRestart = new Map(watcher.latest)
    await delay(500)
    broker = await startBrokerProcess(port, httpPort)
    const restartedAt = Date.now()

    // The feed handler and the subscriber reconnect on their own; the subscriber's
    // subscription is renewed by the client. Every subject moves on past what it had.
    await eventually(() => SUBJECTS.every((s) => (watcher.latest.get(s)?.seq ?? 0) > (beforeRestart.get(s)?.seq ?? 0)), 15_000, 'fresh values on every subject after the restart')
    // The restarted broker's cache is whole again from the feeds' idempotent heartbeat: a new
    // subscriber gets every subject in its snapshot.
    await eventually(async () => { const got = await snapshot(natsUrl); return SUBJECTS.every((s) => got.has(s)) }, 15_000, 'a whole snapshot')
    expect(Date.now() - restartedAt).toBeLessThan(15_000)
  }, 60_000)

  it('a feed handler is killed and restarted: subscribers keep the last values meanwhile, then get the new ones in order', async () => {
    const broker = await startTickfan()
    cleanups.push(() => broker.stop())
    let feeds = startFeedsProcess(broker.natsUrl)
    const watcher = await quoteWatcher(broker.natsUrl)
    await eventually(() => SUBJECTS.every((s) => watcher.latest.has(s)), 20_000, 'every subject')
    await feeds.stop('SIGKILL')
    const lastBefore = new Map(watcher.latest)
    // While the feeds are down the broker still serves the last values.
    const during = await snapshot(broker.natsUrl)
    expect(SUBJECTS.every((s) => during.has(s))).toBe(true)
    feeds = startFeedsProcess(broker.natsUrl)
    await eventually(() => SUBJECTS.every((s) => (watcher.latest.get(s)?.seq ?? 0) > (lastBefore.get(s)?.seq ?? 0)), 20_000, 'new values from the restarted feeds')
    // The restarted handler's sequences continue above the old ones: nothing it sent was dropped as older.
    const varz = await (await fetch(`${broker.httpUrl}/varz`)).json() as { tickfan: { older_dropped: number } }
    expect(varz.tickfan.older_dropped).toBe(0)
  }, 60_000)

  it.each([
    ['half a control line', 'PUB quote.x'],
    ['a message cut short', 'PUB quote.x 100\r\nhalf a payload']
  ])('a client that sends %s and stalls is closed as stale; nobody else notices', async (_name, partial) => {
    const broker = await startTickfan({ pingIntervalMs: 200, maxPingsOutstanding: 2 })
    cleanups.push(() => broker.stop())
    const slowloris = await RawClient.connect(broker.port)
    slowloris.autoPong = false // stalled: it answers nothing
    slowloris.send(`CONNECT {"verbose":false}\r\n${partial}`)
    const nc = await connect({ servers: broker.natsUrl })
    cleanups.push(() => nc.close())
    const got: string[] = []
    nc.subscribe('work.>', { callback: (_e, m) => { got.push(m.string()) } })
    for (let i = 0; i < 20; i++) { nc.publish('work.item', String(i)); await delay(25) }
    await nc.flush()
    await eventually(() => got.length === 20, 3000, 'every message to the well-behaved client')
    await slowloris.closed
    expect(slowloris.afterInfo).toMatch(/^(PING\r\n)+-ERR 'Stale Connection'\r\n$/) // pings unanswered, then closed
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
  })
})
