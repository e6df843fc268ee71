/**
 * Starts a real nats-server (Debian's package, found on PATH) on free loopback ports, with
 * monitoring and WebSocket enabled. Used by the tests that prove tickfan's NATS semantics
 * against the real thing, and by the benchmarks as the reference target.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePorts, waitForPort } from '../../lib/ports.ts'

export interface NatsServerProcess {
  readonly port: number
  readonly wsPort: number
  readonly httpPort: number
  readonly natsUrl: string
  readonly wsUrl: string
  readonly httpUrl: string
  readonly process: ChildProcess
  stop (): Promise<void>
}

export function natsServerVersion (): string | null {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

export interface NatsServerOptions {
  /** Extra lines for the config file (e.g. `max_pending: 1MB`). */
  extraConfig?: string
  /** CPU cores to pin to with taskset (benchmarks). */
  cpus?: string
  /** Extra environment (e.g. GOMAXPROCS). */
  env?: Record<string, string>
  /** A command the server runs under, before taskset (benchmarks: bench/harness/cpu-cap.ts). */
  prefix?: readonly string[]
  /** Client, WebSocket and monitoring ports, chosen by the caller (default: free ones). */
  ports?: ServerPorts
  /** JetStream on, its store in the server's own folder (removed at stop). */
  jetstream?: boolean
}

/**
 * The command and arguments that run `argv` pinned to `cpus` with taskset (when given), under
 * `prefix` (when given: a benchmark's CPU cap, bench/harness/cpu-cap.ts). For spawn().
 */
export function launchCommand (
  argv: readonly string[],
  cpus?: string,
  prefix: readonly string[] = []
): [string, string[]] {
  const command = [...prefix, ...cpus === undefined ? [] : ['taskset', '-c', cpus], ...argv]
  return [command[0] as string, command.slice(1)]
}

/** How many times a start that lost a port to another process (EADDRINUSE) is tried afresh. */
const START_ATTEMPTS = 3
const PORT_TAKEN = /address already in use/

/**
 * Runs `start` until it does not fail for a port taken between being chosen and being bound
 * (by a test running beside this one): free ports are only free until someone binds them.
 */
async function retryingTakenPorts<T> (start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (err) {
      if (attempt >= START_ATTEMPTS || !PORT_TAKEN.test((err as Error).message)) throw err
    }
  }
}

export async function startNatsServer (options: NatsServerOptions = {}): Promise<NatsServerProcess> {
  if (natsServerVersion() === null) throw new Error('nats-server is not on PATH: install it (Debian: apt-get install -y nats-server)')
  const given = options.ports
  if (given !== undefined) return await startOnPorts(options, given)
  return await retryingTakenPorts(async () => await startOnPorts(options, await freePorts(3)))
}

type ServerPorts = readonly [number, number, number]

async function startOnPorts (options: NatsServerOptions, ports: ServerPorts): Promise<NatsServerProcess> {
  const [port, wsPort, httpPort] = ports
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-nats-'))
  const conf = path.join(dir, 'nats.conf')
  writeFileSync(conf, [
    'host: 127.0.0.1',
    `port: ${port}`,
    `http_port: ${httpPort}`,
    `websocket { host: 127.0.0.1, port: ${wsPort}, no_tls: true }`,
    options.jetstream === true ? `jetstream { store_dir: "${path.join(dir, 'jetstream')}" }` : '',
    options.extraConfig ?? ''
  ].join('\n'))
  const [cmd, args] = launchCommand(['nats-server', '-c', conf], options.cpus, options.prefix)
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitForPort(port, 10_000, exited.then(() => { throw new Error(`nats-server exited at start: ${stderr.slice(-500)}`) }))
    await waitForPort(wsPort)
  } catch (err) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    port,
    wsPort,
    httpPort,
    natsUrl: `nats://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    process: child,
    async stop () {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * A NATS cluster of `size` nats-server processes on loopback, every one routed to every other;
 * resolves once each sees all the others.
 */
/** `jetstream`: each server runs JetStream (its own store in a temporary folder), clustered. */
export async function startNatsCluster (
  size: number,
  options: { jetstream?: boolean } = {}
): Promise<NatsServerProcess[]> {
  return await retryingTakenPorts(async () => await startClusterOnce(size, options))
}

async function startClusterOnce (size: number, options: { jetstream?: boolean }): Promise<NatsServerProcess[]> {
  // Every port of every server chosen at once: chosen one server at a time, a server's client
  // port could be another's route port, freed but not yet bound.
  const ports: number[] = await freePorts(size * 4)
  const routePorts = ports.slice(0, size)
  const started = await Promise.allSettled(routePorts.map(async (own, i) => {
    return await startNatsServer({
      ports: [ports[size + 3 * i] as number, ports[size + 3 * i + 1] as number, ports[size + 3 * i + 2] as number],
      jetstream: options.jetstream,
      extraConfig: [
        `cluster { name: tickfan-test, listen: 127.0.0.1:${own}, routes: [${routePorts.filter((p) => p !== own).map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}] }`,
        options.jetstream === true ? `server_name: n${i + 1}` : ''
      ].join('\n')
    })
  }))
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) {
    for (const s of servers) await s.stop()
    throw failed.reason
  }
  const deadline = Date.now() + 15_000
  for (const s of servers) {
    while (true) {
      const routes = await fetch(`${s.httpUrl}/routez`).then(async (r) => ((await r.json()) as { num_routes: number }).num_routes).catch(() => 0)
      if (routes >= size - 1) break
      if (Date.now() > deadline) throw new Error(`the NATS cluster did not form: ${s.natsUrl} has ${routes} routes of ${size - 1}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return servers
}
