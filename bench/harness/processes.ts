/**
 * Starting the processes of a benchmark run: brokers (tickfan or nats-server) and load
 * generators, each its own process, pinned to its own cores where the machine has them.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { historyConfigsOf, type HistoryConfig } from '../../broker/history.ts'
import { DEFAULT_OPTIONS } from '../../broker/options.ts'
import { bundleCheckout } from '../../broker/bundle.ts'
import { ALLOCATOR_ENV, NODE_FLAGS, quotaFlags } from '../../broker/process-settings.ts'
import { launchCommand, startNatsServer } from '../../broker/test-support/nats-server.ts'
import { jetStreamConfigOf } from '../../broker/upstream.ts'
import { freePorts, waitForPort } from '../../lib/ports.ts'
import { coreList } from './core-keeper.ts'
import type { CpuCap } from './cpu-cap.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface BrokerProcess {
  readonly name: 'tickfan' | 'nats-server'
  readonly pid: number
  readonly port: number
  readonly httpPort: number
  readonly natsUrl: string
  /** Settles, saying how, if the process exits before stop() asked it to; never otherwise. */
  readonly died: Promise<string>
  stop (): Promise<void>
}

/** How a child process ended, if it ended without being asked to. */
function deathOf (child: ChildProcess, stopping: () => boolean): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => { if (!stopping()) resolve(signal !== null ? `killed by ${signal}` : `exited with code ${code}`) })
  })
}

function hasTaskset (): boolean {
  return existsSync('/usr/bin/taskset')
}

/** How many cores a taskset list such as "0-3,6" names (core-keeper.ts parses it). */
export function coreCount (spec: string): number {
  return coreList(spec).length
}

/** Cores for the broker and for the load, disjoint where there are at least two. */
export interface CoreLayout {
  broker: string | undefined
  load: string | undefined
  background: string | undefined
  cores: number
}

export function coreLayout (): CoreLayout {
  const cores = os.availableParallelism()
  if (cores < 2 || !hasTaskset()) return { broker: undefined, load: undefined, background: undefined, cores }
  const brokerCores = Math.max(1, Math.floor(cores / 2))
  return {
    broker: brokerCores === 1 ? '0' : `0-${brokerCores - 1}`,
    load: brokerCores === cores - 1 ? String(brokerCores) : `${brokerCores}-${cores - 1}`,
    // Background load (slow consumers, at idle priority) may run on any core: the kernel gives
    // it the idle cycles wherever they are, mostly on the broker's cores, which the measured
    // workloads leave far from busy, rather than only the cycles the load generators leave.
    background: `0-${cores - 1}`,
    cores
  }
}

/** Bundles made by this process, by root: each root's broker is built once per run. */
const bundled = new Map<string, string>()

/**
 * The broker of the checkout at `root` as it ships: its `broker/main.ts` bundled into
 * `dist/broker.mjs`, what `npm run broker` runs (broker/bundle.ts), built the first time this
 * process starts a broker from `root`, or again if that file has gone since (a reference
 * extraction made again). A benchmark measures that, not the sources through tsx.
 */
export function brokerBundle (root: string): string {
  let bundle = bundled.get(root)
  if (bundle === undefined || !existsSync(bundle)) {
    bundle = bundleCheckout(root)
    bundled.set(root, bundle)
  }
  return bundle
}

/** Where a broker asked for at `root` starts from: TICKFAN_BROKER_ROOT in place of this checkout, when set. */
export function brokerRoot (root = ROOT): string {
  const override = process.env.TICKFAN_BROKER_ROOT
  return root === ROOT && override !== undefined && override !== '' ? path.resolve(ROOT, override) : root
}

/**
 * The broker options a tickfan from `root` gets under a CPU cap: this checkout's takes its
 * history's memory at start, as DEPLOYMENT.md advises for a broker that must keep its pace from
 * its first seconds; a capped search starts a fresh broker for its first step (for each with
 * --broker-per-step), and a history filling fresh memory through a measured window is a cost
 * paid once in a broker's life
 * (reports/broker/history-fill.md). Another root (a reference build, the floor) may not know it.
 */
export function cappedBrokerArgs (root: string): string[] {
  return root === ROOT ? ['--history-preallocate'] : []
}

/**
 * Starts a tickfan broker from `root` (this checkout by default; the regression gate passes a
 * reference build's folder).
 */
export async function startTickfanProcess (
  cpus: string | undefined,
  extraArgs: string[] = [],
  workers = 1,
  root = ROOT,
  /** Extra node flags, such as --cpu-prof (bench:profile). */
  nodeFlags: string[] = [],
  /** A CPU cap the broker runs under (the suite's --broker-cpu). */
  cap?: CpuCap
): Promise<BrokerProcess> {
  const [port, httpPort] = await freePorts(2)
  // For experiments on a benchmark scenario: TICKFAN_BROKER_NODE_ARGS, extra node flags for the
  // broker under test (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'); TICKFAN_BROKER_ARGS, extra
  // broker options (e.g. '--max-in-flight-bytes 1048576'); TICKFAN_BROKER_ROOT, where a broker
  // started from this checkout's root is started from instead (bench/floor/broker/main.ts).
  // Under a cap, a one-process broker gets the flags DEPLOYMENT.md gives an operator for a CPU
  // quota (a primary of several workers reads its quota and gives them to its workers itself).
  root = brokerRoot(root)
  const forCap = workers === 1 ? quotaFlags(cap?.share ?? null, 1) : []
  const capArgs = cap === undefined ? [] : cappedBrokerArgs(root)
  const nodeArgs = [...NODE_FLAGS, ...forCap, ...nodeFlags, ...fromEnv('TICKFAN_BROKER_NODE_ARGS'), brokerBundle(root), '--workers', String(workers), '--host', '127.0.0.1', '--port', String(port),
    `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'warn', ...capArgs, ...extraArgs, ...fromEnv('TICKFAN_BROKER_ARGS')]
  // The broker as `npm run broker` runs it: its bundle, with the settings of broker/process-settings.ts.
  const env = { ...process.env, ...ALLOCATOR_ENV }
  const [cmd, args] = launchCommand([process.execPath, ...nodeArgs], cpus, cap?.prefix())
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopping = false
  const died = deathOf(child, () => stopping)
  await waitForPort(port, 20_000, died.then((how) => { throw new Error(`tickfan broker failed to start (${how})`) }))
  await waitForPort(httpPort)
  return {
    name: 'tickfan',
    pid: child.pid as number,
    port,
    httpPort,
    natsUrl: `nats://127.0.0.1:${port}`,
    died,
    stop: async () => { stopping = true; await stopChild(child, exited) }
  }
}

/**
 * Go's runtime settings nats-server inherits from `env`: those of GOGC, GOMEMLIMIT and GODEBUG
 * that are set (GOMAXPROCS is the harness's own).
 */
export function goRuntimeEnv (env: NodeJS.ProcessEnv = process.env): string[] {
  return ['GOGC', 'GOMEMLIMIT', 'GODEBUG'].filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k] as string}`)
}

/**
 * The history streams a tickfan broker keeps by default (`--history` and its limits in
 * broker/options.ts), which the suite's `--nats-history` has nats-server keep too.
 */
export const TICKFAN_HISTORY: readonly HistoryConfig[] = historyConfigsOf(DEFAULT_OPTIONS)

/** Creates a JetStream stream in memory for each of `streams`, with its subjects and limits. */
async function keepHistory (natsUrl: string, streams: readonly HistoryConfig[]): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: 'tickfan-bench-history' })
  try {
    const jsm = await jetstreamManager(nc)
    for (const s of streams) await jsm.streams.add(jetStreamConfigOf(s, StorageType.Memory, 1))
  } finally {
    await nc.close()
  }
}

/**
 * nats-server, with GOMAXPROCS = workers when more than one is asked for (the scaling sweep),
 * and `extraConfig` lines (an authorization block) when given. With `history`, JetStream is on
 * and keeps those streams in memory, as a tickfan broker keeps its history.
 */
export async function startNatsServerProcess (
  cpus: string | undefined,
  workers = 0,
  extraConfig?: string,
  /** A CPU cap the server runs under (the suite's --broker-cpu). */
  cap?: CpuCap,
  history: readonly HistoryConfig[] = []
): Promise<BrokerProcess> {
  const env = workers > 0 ? { GOMAXPROCS: String(workers) } : undefined
  const server = await startNatsServer({ cpus, extraConfig, env, prefix: cap?.prefix(), jetstream: history.length > 0 })
  if (history.length > 0) {
    try {
      await keepHistory(server.natsUrl, history)
    } catch (err) {
      await server.stop()
      throw new Error(`nats-server's history streams could not be created: ${(err as Error).message}`)
    }
  }
  let stopping = false
  return {
    name: 'nats-server',
    pid: server.process.pid as number,
    port: server.port,
    httpPort: server.httpPort,
    natsUrl: server.natsUrl,
    died: deathOf(server.process, () => stopping),
    stop: async () => { stopping = true; await server.stop() }
  }
}

async function stopChild (child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** A process and all its descendants (a multi-worker broker is its primary and the workers). */
export function processTree (pid: number): number[] {
  const out = [pid]
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
    if (children !== '') for (const c of children.split(' ')) out.push(...processTree(Number(c)))
  } catch { /* gone, or no /proc */ }
  return out
}

/** Resident memory of a process and its descendants in bytes (Linux /proc), or null when it is gone. */
export function rssBytes (pid: number): number | null {
  let total: number | null = null
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      if (m !== null) total = (total ?? 0) + Number(m[1]) * 1024
    } catch { /* exited meanwhile */ }
  }
  return total
}

/** CPU time (user + system) a process and its descendants have used, in seconds (Linux /proc). */
export function cpuSeconds (pid: number): number | null {
  let total: number | null = null
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total = (total ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100 // USER_HZ is 100 on Linux
    } catch { /* exited meanwhile */ }
  }
  return total
}

/**
 * CPU time a process and its descendants have spent on a CPU, in nanoseconds: the sum of every
 * thread's /proc/<pid>/task/<tid>/schedstat, which the scheduler keeps to the nanosecond (the
 * utime/stime of cpuSeconds tick at 10 ms, too coarse for one-second comparisons). Null when
 * the process is gone or the kernel keeps no schedstat.
 */
export function cpuNanoseconds (pid: number): number | null {
  let total: number | null = null
  for (const p of processTree(pid)) {
    let tasks: string[]
    try { tasks = readdirSync(`/proc/${p}/task`) } catch { continue }
    for (const t of tasks) {
      try {
        total = (total ?? 0) + Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0])
      } catch { /* exited meanwhile */ }
    }
  }
  return total
}

/**
 * How background load (the simulated slow consumers) is scheduled: 'idle' (Linux SCHED_IDLE,
 * through chrt), else 'nice 19'. Background load shares the load generators' cores on a small
 * machine, and at normal priority each of its wake-ups preempts the publisher and the fast
 * subscribers being measured: on 2 cores a slow consumer at normal priority took the
 * publisher's own p99 send delay from 5-7 ms to 12-23 ms, which the isolation verdict then
 * billed to the broker. At idle priority it runs on the cycles the measured processes leave.
 */
export const BACKGROUND_PRIORITY: 'idle' | 'nice 19' = process.platform === 'linux' && existsSync('/usr/bin/chrt') ? 'idle' : 'nice 19'

function runInBackground (pid: number): void {
  if (BACKGROUND_PRIORITY === 'idle') {
    spawnSync('chrt', ['-a', '-i', '-p', '0', String(pid)], { stdio: 'ignore' })
    return
  }
  try { os.setPriority(pid, 19) } catch { /* not allowed here: it stays at normal priority */ }
}

/**
 * Runs a load script (bench/load/*.ts) in its own process, pinned to `cpus`, passing it
 * `config` and resolving with the one result message it sends back. `background` load runs at
 * BACKGROUND_PRIORITY.
 */
/** Extra arguments from an environment variable, split on spaces (for profiling runs). */
function fromEnv (name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter((a) => a !== '')
}

export function runLoad<T> (
  script: string,
  config: unknown,
  cpus: string | undefined,
  onMessage?: (msg: unknown) => void,
  options: { background?: boolean } = {}
): { result: Promise<T>, child: ChildProcess } {
  const file = path.join(ROOT, 'bench/load', script)
  const child = fork(file, [JSON.stringify(config)], {
    execArgv: [...fromEnv('TICKFAN_LOAD_NODE_ARGS'), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  if (cpus !== undefined && child.pid !== undefined) {
    spawn('taskset', ['-a', '-p', '-c', cpus, String(child.pid)], { stdio: 'ignore' })
  }
  if (options.background === true && child.pid !== undefined) runInBackground(child.pid)
  child.on('error', () => { /* e.g. a message sent after it died: its exit is what reports that */ })
  const result = new Promise<T>((resolve, reject) => {
    let done = false
    child.on('message', (msg: { type?: string, result?: T, error?: string }) => {
      if (msg.type === 'result') { done = true; resolve(msg.result as T) } else if (msg.type === 'error') { done = true; reject(new Error(`${script}: ${msg.error}`)) } else onMessage?.(msg)
    })
    // 'exit' can come before the last IPC message is read (its result, sent just before it
    // exits): judge only once the channel has closed, after every message in it.
    child.once('exit', (code) => {
      const settle = (): void => { if (!done) reject(new Error(`${script} exited with code ${code} before reporting`)) }
      if (child.connected) child.once('disconnect', settle)
      else settle()
    })
  })
  return { result, child }
}
