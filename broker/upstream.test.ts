/**
 * Many machines: a 3-node NATS cluster (real nats-server processes) as the backbone, two tickfan
 * nodes linked upstream to it (`--upstream`), a publisher on the cluster itself and subscribers
 * spread over the tickfan nodes. Mid-stream, the NATS server a tickfan node uses is killed, then
 * a tickfan node is killed: every subscriber recovers and converges to the latest values.
 */
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NatsServerProcess } from './test-support/nats-server.ts'
import { UpstreamRig } from './test-support/upstream-rig.ts'
import { freePorts } from '../lib/ports.ts'
import { runCommand, startBrokerCommand, type LinkedNode } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { delay, eventually, startReference, startTickfan } from './test-support/targets.ts'
import { SEQUENCE_HEADER } from '../lib/headers.ts'

const SUBJECTS = Array.from({ length: 8 }, (_, i) => `quote.sim.S${i}`)

type Node = LinkedNode

describe('tickfan nodes linked upstream to a NATS cluster', () => {
  const rig = new UpstreamRig()

  const upstreamOf = async (node: Node): Promise<{ connected: boolean, server: string | null, reconnects: number }> =>
    ((await (await fetch(`${node.httpUrl}/varz`)).json()) as { tickfan: { upstream: { connected: boolean, server: string | null, reconnects: number } } }).tickfan.upstream

  beforeAll(async () => {
    await rig.start()
    await rig.startNode()
    await rig.startNode()
  }, 60_000)

  afterAll(async () => { await rig.stop() })

  it('fans out what is published on the cluster through both nodes, survives losing a NATS server and a tickfan node, and every subscriber converges to the latest values', async () => {
    const [a, b] = rig.nodes as [Node, Node]
    // The publisher talks to the cluster directly (feeds may publish to the cluster).
    const publisher = await connect({
      servers: rig.urls,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100
    })
    rig.clients.push(publisher)
    let round = 0
    const publishRound = (): void => {
      round++
      for (const subject of SUBJECTS) {
        const h = headers()
        h.set(SEQUENCE_HEADER, String(round))
        publisher.publish(subject, `${subject}@${round}`, { headers: h })
      }
    }
    // Subscribers on each node; each client lists both nodes, so it can move when its node dies.
    const latest: Array<Map<string, string>> = []
    for (const first of [a, b, a, b]) {
      const nc = await connect({
        servers: [first.url, ...rig.nodes.filter((n) => n !== first).map((n) => n.url)],
        noRandomize: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 100
      })
      rig.clients.push(nc)
      const values = new Map<string, string>()
      latest.push(values)
      nc.subscribe('quote.sim.>', { callback: (_e, m) => { values.set(m.subject, m.string()) } })
      await nc.flush()
    }
    const converged = (): boolean => latest.every((values) => SUBJECTS.every((s) => values.get(s) === `${s}@${round}`))
    const ticker = setInterval(publishRound, 20)
    try {
      await eventually(converged, 10_000, 'every subscriber on both nodes to see the stream')

      // A NATS server dies: the node using it fails over to another.
      const before = await upstreamOf(a)
      const victim = rig.cluster
        .find((s) => before.server !== null && before.server.includes(String(s.port))) as NatsServerProcess
      expect(victim).toBeDefined()
      victim.process.kill('SIGKILL')
      await eventually(async () => { const u = await upstreamOf(a); return u.connected && u.reconnects > before.reconnects }, 15_000, 'node A to fail over to another NATS server')
      const movedOn = round
      await eventually(() => latest.every((values) => SUBJECTS.every((s) => Number(values.get(s)?.split('@')[1]) > movedOn)), 15_000, 'fresh values on every subscriber after the failover')

      // A tickfan node dies: its clients reconnect to the other node and its snapshot brings them back.
      await a.process.stop('SIGKILL')
      const afterKill = round
      await eventually(() => latest.every((values) => SUBJECTS.every((s) => Number(values.get(s)?.split('@')[1]) > afterKill)), 15_000, 'fresh values on every subscriber after node A died')
      const subscribers = rig.clients.slice(1, 5)
      expect(subscribers.every((nc) => b.url.endsWith(nc.getServer().split(':').pop() as string))).toBe(true) // all moved to node B
      expect(victim.process.signalCode).toBe('SIGKILL')
    } finally {
      clearInterval(ticker)
    }
    // The stream stops: everyone ends on the same, latest, values.
    await delay(200)
    await eventually(converged, 10_000, 'every subscriber to converge to the final values')
    // A new subscriber on the surviving node gets every latest value in its snapshot at once.
    const late = await connect({ servers: b.url })
    rig.clients.push(late)
    const snapshot = new Map<string, string>()
    late.subscribe('quote.sim.>', { callback: (_e, m) => { snapshot.set(m.subject, m.string()) } })
    await late.flush()
    await delay(100)
    expect(SUBJECTS.map((s) => snapshot.get(s))).toEqual(SUBJECTS.map((s) => `${s}@${round}`))
  }, 90_000)

  it('carries request/reply and queue groups through the cluster', async () => {
    const b = rig.nodes[1] as Node
    const alive = rig.cluster.filter((s) => s.process.exitCode === null && s.process.signalCode === null)
    const responder = await connect({ servers: alive.map((s) => s.natsUrl) })
    rig.clients.push(responder)
    responder.subscribe('price.X', { queue: 'pricers', callback: (_e, m) => { m.respond('7') } })
    await responder.flush()
    const client = await connect({ servers: b.url })
    rig.clients.push(client)
    await eventually(async () => await client.request('price.X', '', { timeout: 500 }).then((m) => m.string() === '7', () => false), 10_000, 'an answer through node B and the cluster')
  })

  it('makes each worker of a multi-worker node a node of its own: every subscriber gets each message once, a queue group once', async () => {
    const live = rig.cluster.filter((s) => s.process.exitCode === null && s.process.signalCode === null)
    const node = await startBrokerCommand(['--workers', '2', '--http-port=0', '--upstream', live.map((s) => s.natsUrl).join(',')])
    rig.nodes.push({ process: node.broker, url: node.natsUrl, httpUrl: node.httpUrl as string })
    const port = node.port
    const clients: NatsConnection[] = []
    const workersSeen = new Set<string>()
    while (clients.length < 4 || workersSeen.size < 2) {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}` })
      rig.clients.push(nc)
      clients.push(nc)
      workersSeen.add(nc.info?.server_id ?? '')
      if (clients.length > 12) throw new Error('connections did not spread over both workers')
    }
    const plain = clients.map(() => 0)
    let queued = 0
    clients.forEach((nc, i) => {
      nc.subscribe('work.>', { callback: () => { plain[i] = (plain[i] as number) + 1 } })
      nc.subscribe('work.>', { queue: 'crew', callback: () => { queued++ } })
    })
    await Promise.all(clients.map(async (nc) => { await nc.flush() }))
    await delay(300)
    const publisher = await connect({ servers: live.map((s) => s.natsUrl) })
    rig.clients.push(publisher)
    for (let i = 0; i < 200; i++) publisher.publish('work.item', String(i))
    await publisher.flush()
    await eventually(() => plain.every((n) => n >= 200) && queued >= 200, 10_000, 'every message to every subscriber and the queue group')
    await delay(300)
    expect(plain).toEqual(clients.map(() => 200))
    expect(queued).toBe(200)
  }, 40_000)

  it('refuses to start when no upstream server can be reached, saying so', async () => {
    const [port, dead] = await freePorts(2)
    const node = runCommand('broker/main.ts', ['--workers', '1', '--port', String(port), '--http-port=-1', '--ws-port=-1', '--upstream', `nats://127.0.0.1:${dead}`])
    expect(await node.exited).toBe(1)
    expect(node.output()).toMatch(/upstream: cannot connect to any of nats:\/\/127\.0\.0\.1:\d+/)
  })
})

describe('a header block from upstream that nats.js cannot read', () => {
  it('is dropped and counted, and the link reads on (before, its read loop ended at that message)', async () => {
    const upstream = await startReference()
    const node = await startTickfan({ upstream: [upstream.natsUrl] })
    try {
      const sub = await connect({ servers: node.natsUrl, reconnect: false })
      const got: string[] = []
      sub.subscribe('quote.up.X', { callback: (_e, m) => { got.push(m.string()) } })
      await sub.flush()
      // nats-server relays the block as it came; only a raw socket can publish it.
      const raw = await RawClient.connect(upstream.port)
      const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'
      raw.send(`CONNECT {"verbose":false,"headers":true}\r\nHPUB quote.up.X ${block.length} ${block.length + 3}\r\n${block}bad\r\n` +
        'PUB quote.up.X 4\r\ngood\r\n')
      await raw.roundTrip()
      await eventually(() => got.length === 1, 5000, 'the good message through the link')
      expect(got).toEqual(['good'])
      const varz = (await (await fetch(`${node.httpUrl}/varz`)).json()) as { tickfan: { upstream: Record<string, unknown> } }
      expect(varz.tickfan.upstream).toMatchObject({ receivedMsgs: 2, unreadableHeaderMsgs: 1 })
      raw.close()
      await sub.close()
    } finally {
      await node.stop()
      await upstream.stop()
    }
  })
})
