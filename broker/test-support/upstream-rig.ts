/**
 * What the upstream tests stand on: a 3-server NATS cluster and the tickfan nodes linked upstream
 * to it (`--upstream`), plus the client connections a test opens. stop() ends all of it, and
 * copes with a start() that failed part way.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { startNatsCluster, type NatsServerProcess } from './nats-server.ts'
import { startLinkedNode, type LinkedNode } from './processes.ts'

export class UpstreamRig {
  cluster: NatsServerProcess[] = []
  readonly nodes: LinkedNode[] = []
  /** Connections the test opened: closed by stop(). */
  readonly clients: NatsConnection[] = []

  constructor (private readonly options: { jetstream?: boolean, nodeArgs?: readonly string[] } = {}) {}

  async start (): Promise<void> {
    this.cluster = await startNatsCluster(3, { jetstream: this.options.jetstream === true })
  }

  /** The cluster's client URLs. */
  get urls (): string[] {
    return this.cluster.map((s) => s.natsUrl)
  }

  /** A tickfan node linked upstream to the whole cluster. */
  async startNode (): Promise<LinkedNode> {
    const node = await startLinkedNode(this.urls, this.options.nodeArgs ?? [])
    this.nodes.push(node)
    return node
  }

  async stop (): Promise<void> {
    for (const nc of this.clients) await nc.close().catch(() => {})
    for (const n of this.nodes) await n.process.stop('SIGKILL')
    for (const s of this.cluster) await s.stop()
  }
}
