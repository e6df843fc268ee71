/**
 * The trade history across machines: tickfan nodes linked upstream (`--upstream`) to a 3-node
 * NATS cluster running JetStream. The first node creates the history stream on the cluster
 * (file storage, 3 replicas); clients read it through a node with the official JetStream
 * client, the same code as against a lone broker; it survives the loss of that node. (Losing a
 * NATS server is bench:faults' nats-server-dies: the cluster answers JetStream requests again
 * once it has elected new leaders, which here, with another cluster running beside it, did not
 * always happen within 20 s; so it is measured there, with retries, not asserted here.)
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream'
import { connect, headers } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UpstreamRig } from './test-support/upstream-rig.ts'
import type { LinkedNode } from './test-support/processes.ts'
import { eventually } from './test-support/targets.ts'

type Node = LinkedNode

/** Every trade of stream `trades` as the client sees it: subject, payload, stream sequence. */
async function readHistory (url: string): Promise<string[]> {
  const nc = await connect({ servers: url })
  try {
    const consumer = await jetstream(nc).consumers.get('trades', { deliver_policy: DeliverPolicy.All })
    const seen: string[] = []
    for await (const m of await consumer.fetch({ max_messages: 100, expires: 2000 })) {
      seen.push(`${m.subject} ${m.string()} #${m.seq}`)
      if (m.info.pending === 0) break
    }
    return seen
  } finally {
    await nc.close()
  }
}

describe('the trade history behind --upstream, on a NATS cluster with JetStream', () => {
  const rig = new UpstreamRig({ jetstream: true, nodeArgs: ['--history-replicas', '3'] })
  const historyState = async (node: Node): Promise<string> =>
    ((await (await fetch(`${node.httpUrl}/varz`)).json()) as { tickfan: { upstream: { history: string } } }).tickfan.upstream.history

  beforeAll(async () => {
    await rig.start()
  }, 60_000)

  afterAll(async () => { await rig.stop() })

  it('is created on the cluster by a node, read through it with the official client, and outlives the node', async () => {
    const a = await rig.startNode()
    await eventually(async () => (await historyState(a)).startsWith('ready'), 30_000, 'the history stream on the cluster')
    expect(await historyState(a)).toBe('ready: trades on the cluster (3 replicas)')

    const pub = await connect({ servers: a.url })
    rig.clients.push(pub)
    const js = jetstream(pub)
    for (let i = 1; i <= 20; i++) {
      const h = headers()
      h.set('Nats-Msg-Id', `sim.X.${i}`)
      pub.publish(i % 2 === 0 ? 'trade.sim.X' : 'trade.sim.Y', `t${i}`, { headers: h })
    }
    const dup = await js.publish('trade.sim.X', 't2', { msgID: 'sim.X.2' })
    expect(dup.duplicate).toBe(true)
    await pub.flush()

    const expected = Array.from({ length: 20 }, (_, k) => `${(k + 1) % 2 === 0 ? 'trade.sim.X' : 'trade.sim.Y'} t${k + 1} #${k + 1}`)
    await eventually(async () => (await readHistory(a.url)).length === 20, 10_000, 'the trades in the history')
    expect(await readHistory(a.url)).toEqual(expected)

    await a.process.stop('SIGKILL')
    const b = await rig.startNode()
    expect(await readHistory(b.url)).toEqual(expected)
  }, 120_000)
})
