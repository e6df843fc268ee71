/**
 * What a worker gives a peer that (re)connects to it (worker-mesh.ts connectTo): every last value
 * published on it, those still on their way round its own loopback included, and the values the
 * peer's previous life published, but not a third worker's (that one gives its own); and the link
 * is made only once the peer holds them, so that a restarted worker is dealt no client before.
 * Brokers in this process, linked by WorkerMesh as the workers of a multi-worker broker are.
 * reports/broker/mesh-hello.md has the probe that found both races on a real restart.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from './server.ts'
import { RawClient } from './test-support/raw-client.ts'
import { eventually } from './test-support/targets.ts'
import { WorkerMesh } from './worker-mesh.ts'

interface Worker { broker: RunningBroker, mesh: WorkerMesh, path: string }

const dir = mkdtempSync(join(tmpdir(), 'tickfan-mesh-hello-'))
const started: Worker[] = []
const clients: RawClient[] = []

async function worker (index: number): Promise<Worker> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, httpPort: -1, wsPort: -1, history: [], logLevel: 'silent' })
  const mesh = new WorkerMesh(broker.router, index)
  const path = join(dir, `w${index}.sock`)
  await mesh.listen(path)
  await mesh.loopBack(path)
  const w = { broker, mesh, path }
  started.push(w)
  return w
}

async function stop (w: Worker): Promise<void> {
  await w.mesh.close()
  await w.broker.close()
}

async function publisherOn (w: Worker): Promise<RawClient> {
  const raw = await RawClient.connect(w.broker.port)
  await raw.handshake()
  clients.push(raw)
  return raw
}

const cached = (w: Worker, subject: string): string | undefined =>
  w.broker.router.lastValues.get(subject)?.payload().toString()

afterEach(async () => {
  for (const raw of clients.splice(0)) raw.close()
  for (const w of started.splice(0)) await stop(w)
})
process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })

describe('a worker linking to a (re)started peer', () => {
  it('gives it the values still on their way round its own loopback', async () => {
    const a = await worker(0)
    const b = await worker(1)
    await b.mesh.connectTo(0, a.path)
    const publisher = await publisherOn(a)
    // The loopback hop made slow: a's own value stays in its socket, not yet in its cache.
    const loopback = (a.mesh as unknown as { loopback: { socket: net.Socket } }).loopback.socket
    loopback.cork()
    publisher.send('PUB quote.hello.X 2\r\nv1\r\n')
    await eventually(() => loopback.writableLength > 0, 2000, 'the value in the loopback')
    const linking = a.mesh.connectTo(1, b.path)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(cached(a, 'quote.hello.X')).toBeUndefined()
    loopback.uncork()
    await linking
    // Before, the hello was a's cache at the connect: b never had this value, nor got it later.
    expect(cached(b, 'quote.hello.X')).toBe('v1')
    expect(cached(a, 'quote.hello.X')).toBe('v1')
  })

  it('is linked only once the peer holds every value', async () => {
    const a = await worker(0)
    const publisher = await publisherOn(a)
    const VALUES = 5000
    let batch = ''
    for (let i = 0; i < VALUES; i++) batch += `PUB quote.hello.many.${i} 2\r\nv${i % 10}\r\n`
    publisher.send(batch)
    await publisher.roundTrip()
    await eventually(() => a.broker.router.lastValues.snapshot('quote.hello.many.>').length === VALUES, 5000, 'a\'s cache')
    const b = await worker(1)
    await b.mesh.connectTo(0, a.path)
    await a.mesh.connectTo(1, b.path)
    // Before, the link was made as the values were queued: a client dealt to b then got a part.
    expect(b.broker.router.lastValues.snapshot('quote.hello.many.>').length).toBe(VALUES)
    expect(a.mesh.stats.helloTimeouts).toBe(0)
  })

  it('gives a restarted peer back the values it published before, and leaves a third worker\'s to that worker', async () => {
    const [a, b, c] = [await worker(0), await worker(1), await worker(2)]
    for (const [w, index] of [[a, 0], [b, 1], [c, 2]] as const) {
      for (const [peer, peerIndex] of [[a, 0], [b, 1], [c, 2]] as const) {
        if (peerIndex !== index) await w.mesh.connectTo(peerIndex, peer.path)
      }
    }
    const [onB, onC] = [await publisherOn(b), await publisherOn(c)]
    onB.send('PUB quote.hello.fromB 2\r\nb1\r\n')
    onC.send('PUB quote.hello.fromC 2\r\nc1\r\n')
    await eventually(() => cached(a, 'quote.hello.fromB') === 'b1' && cached(a, 'quote.hello.fromC') === 'c1', 2000, 'both values on a')
    await eventually(() => cached(c, 'quote.hello.fromB') === 'b1', 2000, 'b\'s value on c')
    onB.close()
    await stop(b)
    started.splice(started.indexOf(b), 1)
    const b2 = await worker(1)
    await b2.mesh.connectTo(0, a.path)
    await b2.mesh.connectTo(2, c.path)
    const [resentByA, resentByC] = [a.mesh.stats.resentFromCache, c.mesh.stats.resentFromCache]
    await a.mesh.connectTo(1, b2.path)
    await c.mesh.connectTo(1, b2.path)
    expect(cached(b2, 'quote.hello.fromB')).toBe('b1')
    expect(cached(b2, 'quote.hello.fromC')).toBe('c1')
    // a has nothing of its own: it gave b's value back, not c's; c gave its own and b's.
    expect(a.mesh.stats.resentFromCache - resentByA).toBe(1)
    expect(c.mesh.stats.resentFromCache - resentByC).toBe(2)
  })
})
