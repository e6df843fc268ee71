/**
 * A multi-core broker (`--workers N`): N worker processes (Node's cluster module) behind one
 * NATS port and one WebSocket port, each serving the connections the primary deals it
 * (connection-dealer.ts: in turn, to workers linked and alive), linked to each other by a
 * `WorkerMesh`. The primary accepts connections but reads none: it starts the workers, links
 * them, deals them connections, restarts one that dies (and relinks it), and serves the
 * monitoring port by adding up the workers' own monitors.
 *
 * Messages between primary and workers (IPC):
 *   worker -> primary  { type: 'ready', index, monitorUrl }
 *   primary -> worker  { type: 'link', peers: [{ index, path }] }
 *   worker -> primary  { type: 'linked', index }
 *   primary -> worker  { type: 'connection', door } with the connection's socket
 *   worker -> primary  { type: 'took' }, for each, before it serves it
 *   worker -> primary  { type: 'left' }, for each dealt with room, once it has closed: the
 *                      primary bounds the connections of all workers together (--max-connections)
 */
import cluster, { type Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { cpuQuotaCores } from './cpu-quota.ts'
import { ALLOCATOR_ENV, quotaFlags, withNodeFlags } from './process-settings.ts'
import { createClusterMonitor } from './cluster-monitor.ts'
import { ConnectionDealer, type DealtConnection, type LeftConnection, type TookConnection } from './connection-dealer.ts'
import { PendingLinks } from './pending-links.ts'
import type { BrokerOptions } from './options.ts'
import { startBroker } from './server.ts'
import { WorkerMesh } from './worker-mesh.ts'

const INTERNAL_USER = 'tickfan-primary'

interface ReadyMessage { type: 'ready', index: number, monitorUrl: string }
interface LinkMessage { type: 'link', peers: Array<{ index: number, path: string }> }
interface LinkedMessage { type: 'linked', index: number }

function socketPath (dir: string, index: number): string {
  return path.join(dir, `worker-${index}.sock`)
}

export interface RunningCluster {
  readonly port: number
  readonly wsPort: number
  readonly httpPort: number
  readonly workers: number
  close (): Promise<void>
  /** Every worker in lame-duck mode at once (none is replaced); resolves when all have stopped. */
  lameDuck (): Promise<void>
}

/** In the primary: starts `count` workers and the monitoring port; resolves when all are linked. */
export async function startClusterPrimary (
  options: BrokerOptions,
  count: number,
  log: (line: string) => void = () => {}
): Promise<RunningCluster> {
  // Workers run as `npm run broker` runs a broker, whether or not this primary was started so,
  // and with V8's collector on one thread where each has less than a core of a CPU quota.
  const quota = cpuQuotaCores()
  const forQuota = quotaFlags(quota, count)
  if (forQuota.length > 0) log(`a CPU quota of ${quota?.toFixed(2)} cores over ${count} workers: each runs ${forQuota.join(' ')}`)
  cluster.setupPrimary({ execArgv: withNodeFlags(cluster.settings.execArgv ?? process.execArgv, forQuota) })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-mesh-'))
  const internalPassword = randomBytes(18).toString('base64url')
  const serverId = `TICKFAN${randomBytes(8).toString('hex').toUpperCase()}`
  const slots: Array<{
    worker: Worker | null,
    ready: ReadyMessage | null
  }> = Array.from({ length: count }, () => ({ worker: null, ready: null }))
  let stopping = false
  // The public ports are the primary's, bound before any worker starts: one taken fails the start.
  const dealer = new ConnectionDealer<Worker>(log, options.maxConnections)
  const ports = {
    port: await dealer.listen('nats', options.port, options.host),
    wsPort: options.wsPort < 0 ? -1 : await dealer.listen('ws', options.wsPort, options.host)
  }

  const links = new PendingLinks<Worker>()
  const fork = (index: number): Promise<ReadyMessage> => {
    const worker = cluster.fork({
      ...ALLOCATOR_ENV,
      TICKFAN_WORKER_INDEX: String(index),
      TICKFAN_WORKERS: String(count),
      TICKFAN_MESH_DIR: dir,
      TICKFAN_SERVER_ID: `${serverId}W${index}`,
      TICKFAN_INTERNAL_PASSWORD: internalPassword,
      TICKFAN_PORTS: JSON.stringify(ports)
    })
    slots[index] = { worker, ready: null }
    return new Promise((resolve, reject) => {
      worker.on('message', (m: ReadyMessage | LinkedMessage | TookConnection | LeftConnection) => {
        if (m.type === 'took') dealer.took(worker)
        if (m.type === 'left') dealer.left(worker)
        if (m.type === 'ready') { (slots[index] as { ready: ReadyMessage | null }).ready = m; resolve(m) }
        if (m.type === 'linked') links.linked(worker)
      })
      worker.once('disconnect', () => { dealer.retire(worker) })
      worker.once('exit', (code, signal) => {
        dealer.retire(worker)
        reject(new Error(`worker ${index} exited at start (code ${code}, signal ${signal})`))
        links.exited(worker, `worker ${index} exited while linking (code ${code}, signal ${signal})`)
        if (stopping || slots[index]?.worker !== worker || slots[index]?.ready == null) return
        log(`worker ${index} stopped (code ${code}, signal ${signal}); starting a new one`)
        void restart(index)
      })
    })
  }
  const link = async (index: number, peers: number[]): Promise<void> => {
    const worker = slots[index]?.worker
    if (worker == null || peers.length === 0) return
    const linked = links.ask(worker)
    const message: LinkMessage = { type: 'link', peers: peers.map((p) => ({ index: p, path: socketPath(dir, p) })) }
    worker.send(message)
    await linked
  }
  /** Into the dealer's rotation: a worker linked to every other. */
  const admit = (index: number): void => {
    const worker = slots[index]?.worker
    if (worker == null || stopping) return
    dealer.admit(worker, {
      isConnected: () => worker.isConnected(),
      send: (message, socket, callback) => { worker.send(message, socket, { keepOpen: true }, callback) }
    })
  }
  const others = (index: number): number[] =>
    slots.map((_, i) => i).filter((i) => i !== index && slots[i]?.ready != null)
  const restart = async (index: number): Promise<void> => {
    try {
      await fork(index)
      await link(index, others(index))
      for (const peer of others(index)) await link(peer, [index])
      admit(index)
      log(`worker ${index} back and linked`)
    } catch (err) {
      log(`worker ${index} could not be restarted: ${(err as Error).message}`)
    }
  }

  await Promise.all(slots.map(async (_, i) => await fork(i)))
  await Promise.all(slots.map(async (_, i) => { await link(i, others(i)) }))
  for (let i = 0; i < count; i++) admit(i)

  let monitor: FastifyInstance | null = null
  let httpPort = -1
  if (options.httpPort >= 0) {
    monitor = await createClusterMonitor({
      workers: () => slots.flatMap((s) => (s.ready === null ? [] : [{ url: s.ready.monitorUrl }])),
      internalAuth: { user: INTERNAL_USER, password: internalPassword },
      auth: options.monitoringAuth,
      serverId,
      allowedHosts: options.httpAllowedHosts,
      dealer: () => dealer.counts()
    })
    await monitor.listen({ port: options.httpPort, host: options.host })
    httpPort = (monitor.server.address() as { port: number }).port
  }

  const stopAll = async (signal: 'SIGTERM' | 'SIGUSR2'): Promise<void> => {
    stopping = true
    dealer.close() // as nats-server: no new connections, in lame-duck mode too
    await Promise.all(slots.map(async (s) => {
      const w = s.worker
      if (w === null || w.isDead()) return
      await new Promise<void>((resolve) => { w.once('exit', () => resolve()); w.process.kill(signal) })
    }))
    await monitor?.close()
    rmSync(dir, { recursive: true, force: true })
  }

  return {
    port: ports.port,
    wsPort: ports.wsPort,
    httpPort,
    workers: count,
    close: async () => { await stopAll('SIGTERM') },
    lameDuck: async () => { await stopAll('SIGUSR2') }
  }
}

/** In a worker: one broker serving the connections the primary deals it, linked to the other workers. */
export async function runClusterWorker (options: BrokerOptions): Promise<{
  close: () => Promise<void>,
  lameDuck: () => Promise<void>
}> {
  const index = Number(process.env.TICKFAN_WORKER_INDEX)
  const count = Number(process.env.TICKFAN_WORKERS)
  const dir = process.env.TICKFAN_MESH_DIR as string
  const broker = await startBroker(
    {
      ...options,
      httpPort: 0,
      monitoringAuth: { user: INTERNAL_USER, password: process.env.TICKFAN_INTERNAL_PASSWORD as string }
    },
    {
      worker: {
        serverId: process.env.TICKFAN_SERVER_ID as string,
        ports: JSON.parse(process.env.TICKFAN_PORTS as string) as { port: number, wsPort: number }
      },
      cidStart: index + 1,
      cidStride: count
    }
  )
  // With an upstream cluster every worker is a node of its own: the cluster links them.
  const mesh = options.upstream.length > 0 ? null : new WorkerMesh(
    broker.router,
    index,
    Math.random,
    options.meshMaxQueuedBytes
  )
  await mesh?.listen(socketPath(dir, index))
  await mesh?.loopBack(socketPath(dir, index))
  process.on('message', (m: LinkMessage | DealtConnection, socket?: net.Socket) => {
    if (m.type === 'connection' && socket !== undefined) {
      process.send?.({ type: 'took' } satisfies TookConnection) // before serving it: the primary closes its copy
      if (!m.full) socket.once('close', () => { if (process.connected) process.send?.({ type: 'left' } satisfies LeftConnection) })
      broker.take(m.door, socket, m.full)
      return
    }
    if (m.type !== 'link') return
    if (mesh === null) { process.send?.({ type: 'linked', index } satisfies LinkedMessage); return }
    Promise.all(m.peers.map(async (p) => { await mesh.connectTo(p.index, p.path) })).then(
      () => { process.send?.({ type: 'linked', index } satisfies LinkedMessage) },
      (err: Error) => { process.stderr.write(`worker ${index}: linking failed: ${err.message}\n`); process.exit(1) }
    )
  })
  const ready: ReadyMessage = { type: 'ready', index, monitorUrl: broker.httpUrl as string }
  process.send?.(ready)
  return {
    async close () {
      await mesh?.close()
      await broker.close()
    },
    // The mesh stays up while clients drain: what they publish still reaches the other workers.
    async lameDuck () {
      await broker.lameDuck()
      await mesh?.close()
    }
  }
}
