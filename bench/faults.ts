/**
 * `npm run bench:faults`: what a failure costs, measured. Feeds publish at a steady rate; a
 * subscriber records every trade and the newest quote per subject; mid-stream, a fault:
 * - broker-crash: the broker is killed (SIGKILL) and restarted on the same port after `--outage-ms`;
 * - nats-server-dies: a tickfan node linked to a 3-node NATS cluster loses the server it uses;
 * - tickfan-node-dies: of two nodes on the cluster, the subscriber's is killed and it moves over;
 * - subscriber-outage: the subscriber's network is cut for `--subscriber-outage-ms` (a TCP proxy
 *   drops it and refuses it meanwhile); the broker carries on. `subscriber-outage-upstream`: the
 *   same with the subscriber's tickfan node linked to a 3-node NATS cluster with JetStream.
 * Reported: trades the feed handlers handed to the NATS client versus trades the subscriber
 * received live (lost ones are the price of core NATS's at-most-once delivery), then how many
 * of the lost it filled from the broker's trade history (an ordered JetStream consumer from a
 * little before its last live trade: traders/history-fill.ts) and how many stayed lost, live
 * duplicates, and how long until every quote subject moved on and a new subscriber's snapshot
 * was whole again.
 * Before them, start-up: how long a restarted broker takes from its spawn to accepting
 * connections, for `npm run broker` (compiled ahead of time by `npm run build`), the sources
 * run through tsx (what the tests run), and nats-server.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { startNatsCluster } from '../broker/test-support/nats-server.ts'
import { freePorts, waitForPort } from '../lib/ports.ts'
import { runCommand, type CommandProcess } from '../broker/test-support/processes.ts'
import { startFeeds } from '../feeds/feeds.ts'
import { brokerBundle, ROOT } from './harness/processes.ts'
import { findInstruments } from '../feeds/instruments.ts'
import { parseTick } from '../feeds/tick.ts'
import { startTcpProxy } from '../lib/tcp-proxy.ts'
import { fillFromHistory } from '../traders/history-fill.ts'
import { TradeLedger } from '../traders/trade-ledger.ts'

const CLI = {
  rate: { type: 'integer', default: 1667, min: 10, help: 'Venue messages per second per venue (three venues; with 20% trades, 1,000 trades/s in all)' },
  tradeRatio: { type: 'number', default: 0.2, min: 0.01, max: 1, help: 'Fraction of venue messages that are trades' },
  outageMs: { type: 'integer', default: 1000, min: 0, help: 'How long the broker stays down' },
  subscriberOutageMs: { type: 'integer', default: 3000, min: 0, help: 'How long the subscriber\'s network is cut (subscriber-outage)' },
  scenarios: {
    type: 'list',
    default: ['subscriber-outage', 'subscriber-outage-upstream', 'broker-crash', 'nats-server-dies', 'tickfan-node-dies'],
    help: 'Fault scenarios: subscriber-outage, subscriber-outage-upstream, broker-crash, nats-server-dies, tickfan-node-dies'
  },
  runs: { type: 'integer', default: 3, min: 1, help: 'Runs per scenario' },
  workers: { type: 'integer', default: 1, min: 1, help: 'Broker workers (the whole broker is killed)' },
  out: { type: 'string', default: 'reports/faults', help: 'Report folder' },
  startups: { type: 'integer', default: 5, min: 0, help: 'Start-up measurements per way of starting a broker (0 skips them)' }
} satisfies OptionTable

/** Milliseconds from spawning `command` to a TCP connection accepted on `port` (polled every 2 ms). */
async function startupMs (command: string, args: readonly string[], port: number): Promise<number> {
  const started = performance.now()
  const child = spawn(command, args, { cwd: ROOT, stdio: 'ignore' })
  try {
    while (performance.now() - started < 30_000) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1')
        s.once('connect', () => { s.destroy(); resolve(true) })
        s.once('error', () => resolve(false))
      })
      if (up) return performance.now() - started
      if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited at start (code ${child.exitCode})`)
      await delay(2)
    }
    throw new Error(`${command} ${args.join(' ')} did not listen within 30 s`)
  } finally {
    child.kill('SIGKILL')
    await new Promise((resolve) => { if (child.exitCode !== null || child.signalCode !== null) resolve(null); else child.once('exit', resolve) })
  }
}

const STARTS: Array<{ name: string, command: (port: number) => [string, string[]] }> = [
  { name: '`npm run broker` (node dist/broker.mjs, compiled by `npm run build`)', command: (port) => [process.execPath, ['dist/broker.mjs', '--port', String(port), '--ws-port=-1', '--http-port=-1', '--host', '127.0.0.1']] },
  { name: 'the sources through tsx (`node --import tsx broker/main.ts`)', command: (port) => [process.execPath, ['--import', 'tsx', 'broker/main.ts', '--port', String(port), '--ws-port=-1', '--http-port=-1', '--host', '127.0.0.1']] },
  { name: 'nats-server', command: (port) => ['nats-server', ['-a', '127.0.0.1', '-p', String(port)]] }
]

const INSTRUMENTS = findInstruments(['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'])

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function waitUntil (check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await delay(20)
  }
  return false
}

interface CrashResult {
  published: number,
  received: number,
  lost: number,
  /** Of the lost, filled from the trade history; and still lost after. */
  filled: number,
  lostAfterFill: number,
  /** Why the fill failed (null: it ran). */
  fillError: string | null,
  duplicates: number,
  freshMs: number,
  snapshotMs: number
}

type Options = { rate: number, tradeRatio: number, outageMs: number, subscriberOutageMs: number, workers: number }

/** One fault scenario: where feeds publish, where the subscriber connects, the fault, and cleanup. */
interface Scenario {
  describe: string
  feedsUrl: string[]
  subscriberServers: string[]
  /** Where a new subscriber's snapshot is checked after the fault. */
  snapshotUrl: () => string
  /** Causes the fault; the recovery clock starts when it returns (after the restart, for broker-crash). */
  fault: () => Promise<void>
  /**
   * The quotes to move on from are those held when the fault ends, not when it begins (the
   * subscriber alone was cut off: quotes it received just before the cut would count).
   */
  freshFromFaultEnd?: boolean
  cleanup: () => Promise<void>
}

function tickfanNode (o: Options, port: number, httpPort: number, upstream: string[] = []): CommandProcess {
  // The broker as it ships (its bundle), as every bench command runs it.
  return runCommand(brokerBundle(ROOT), ['--workers', String(o.workers), '--host', '127.0.0.1', '--port', String(port), `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'error',
    ...(upstream.length > 0 ? ['--upstream', upstream.join(','), '--history-replicas', '3'] : [])])
}

/** A 3-node NATS cluster with JetStream: the nodes linked to it keep the trade history there (3 replicas). */
async function clusterWithHistory (): Promise<Awaited<ReturnType<typeof startNatsCluster>>> {
  return await startNatsCluster(3, { jetstream: true })
}

/** Waits until the node on `httpPort` reports the history stream ready on its cluster. */
async function historyReady (httpPort: number): Promise<void> {
  const state = async (): Promise<string> =>
    ((await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as { tickfan: { upstream: { history: string } } }).tickfan.upstream.history
  if (!await waitUntil(async () => (await state()).startsWith('ready'), 30_000)) throw new Error(`the history stream was not created on the cluster: ${await state()}`)
}

/** A subscriber cut off from its broker (a lone one, or a node linked to a JetStream cluster). */
async function subscriberOutage (o: Options, upstream: boolean): Promise<Scenario> {
  const cluster = upstream ? await clusterWithHistory() : []
  const [port, httpPort] = await freePorts(2)
  const broker = tickfanNode(o, port, httpPort, cluster.map((s) => s.natsUrl))
  await waitForPort(httpPort, 20_000)
  if (upstream) await historyReady(httpPort)
  const proxy = await startTcpProxy(port)
  const url = `nats://127.0.0.1:${port}`
  return {
    describe: `the subscriber's network cut for ${o.subscriberOutageMs} ms (connection dropped, reconnects refused), ` +
      (upstream ? 'its tickfan node, linked to a 3-node NATS cluster with JetStream, carrying on; feeds publish to the cluster' : 'the broker carrying on'),
    feedsUrl: upstream ? cluster.map((s) => s.natsUrl) : [url],
    subscriberServers: [`nats://127.0.0.1:${proxy.port}`],
    snapshotUrl: () => url,
    async fault () { await proxy.cut(o.subscriberOutageMs) },
    freshFromFaultEnd: true,
    async cleanup () {
      await proxy.close()
      await broker.stop('SIGINT')
      for (const s of cluster) await s.stop()
    }
  }
}

const SCENARIOS: Record<string, (o: Options) => Promise<Scenario>> = {
  /** The subscriber's network is cut (a proxy drops it and refuses it) while the broker carries on. */
  'subscriber-outage': async (o) => await subscriberOutage(o, false),
  /** The same behind --upstream: the node's history is the cluster's JetStream stream. */
  'subscriber-outage-upstream': async (o) => await subscriberOutage(o, true),
  /** The only broker is killed and restarted on the same port after the outage. */
  'broker-crash': async (o) => {
    const [port, httpPort] = await freePorts(2)
    let broker = tickfanNode(o, port, httpPort)
    await waitForPort(httpPort, 20_000)
    const url = `nats://127.0.0.1:${port}`
    return {
      describe: `the broker killed (SIGKILL), down ${o.outageMs} ms, restarted on the same port`,
      feedsUrl: [url],
      subscriberServers: [url],
      snapshotUrl: () => url,
      async fault () {
        await broker.stop('SIGKILL')
        await delay(o.outageMs)
        broker = tickfanNode(o, port, httpPort)
        await waitForPort(port, 20_000)
      },
      async cleanup () { await broker.stop('SIGINT') }
    }
  },
  /** A tickfan node linked to a 3-node NATS cluster loses the NATS server it uses. */
  'nats-server-dies': async (o) => {
    const cluster = await clusterWithHistory()
    const [port, httpPort] = await freePorts(2)
    const node = tickfanNode(o, port, httpPort, cluster.map((s) => s.natsUrl))
    await waitForPort(httpPort, 20_000)
    await historyReady(httpPort)
    const url = `nats://127.0.0.1:${port}`
    const upstream = async (): Promise<{ server: string | null, reconnects: number, connected: boolean }> =>
      ((await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as { tickfan: { upstream: { server: string | null, reconnects: number, connected: boolean } } }).tickfan.upstream
    return {
      describe: 'the NATS server a tickfan node uses killed (SIGKILL); the node fails over within a 3-node cluster; feeds publish to the cluster',
      feedsUrl: cluster.map((s) => s.natsUrl),
      subscriberServers: [url],
      snapshotUrl: () => url,
      async fault () {
        const before = await upstream()
        const victim = cluster.find((s) => before.server?.endsWith(`:${s.port}`) === true)
        if (victim === undefined) throw new Error(`cannot tell which NATS server the node uses (${String(before.server)})`)
        victim.process.kill('SIGKILL') // the clock starts here: failover is part of the recovery
      },
      async cleanup () { await node.stop('SIGINT'); for (const s of cluster) await s.stop() }
    }
  },
  /** Two tickfan nodes on a NATS cluster; the subscriber's node is killed and it moves to the other. */
  'tickfan-node-dies': async (o) => {
    const cluster = await clusterWithHistory()
    const [portA, httpA, portB, httpB] = await freePorts(4)
    const a = tickfanNode(o, portA, httpA, cluster.map((s) => s.natsUrl))
    const b = tickfanNode(o, portB, httpB, cluster.map((s) => s.natsUrl))
    await waitForPort(httpA, 20_000)
    await waitForPort(httpB, 20_000)
    await historyReady(httpA)
    return {
      describe: 'the tickfan node a subscriber uses killed (SIGKILL); the subscriber moves to the other node (its server list); feeds publish to the NATS cluster',
      feedsUrl: cluster.map((s) => s.natsUrl),
      subscriberServers: [`nats://127.0.0.1:${portA}`, `nats://127.0.0.1:${portB}`],
      snapshotUrl: () => `nats://127.0.0.1:${portB}`,
      async fault () { await a.stop('SIGKILL') },
      async cleanup () { await b.stop('SIGINT'); for (const s of cluster) await s.stop() }
    }
  }
}

async function crashOnce (name: string, o: Options): Promise<CrashResult & { describe: string }> {
  const scenario = await (SCENARIOS[name] as (o: Options) => Promise<Scenario>)(o)
  const sub = await connect({
    servers: scenario.subscriberServers,
    noRandomize: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 50
  })
  const trades = new TradeLedger()
  const quoteSeq = new Map<string, number>()
  sub.subscribe('trade.>', { callback: (_e, m) => { const r = parseTick(m.data); if (r.ok && r.tick.type === 'trade') trades.note(r.tick, 'live', Date.now()) } })
  sub.subscribe('quote.>', { callback: (_e, m) => { const r = parseTick(m.data); if (r.ok) quoteSeq.set(m.subject, r.tick.seq) } })
  await sub.flush()
  // Feeds start once the subscriber listens: every trade they publish is one it should have.
  const feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], instruments: INSTRUMENTS, ratePerSec: o.rate, tradeRatio: o.tradeRatio, bursty: false, seed: 5, natsUrl: scenario.feedsUrl.join(',') })
  const subjects = feeds.handlers.flatMap((h) => INSTRUMENTS.map((i) => `quote.${h.venue}.${i.symbol}`))
  await waitUntil(() => subjects.every((s) => quoteSeq.has(s)), 20_000)
  await delay(2000)

  let before = new Map(quoteSeq)
  const lastLiveAtMs = trades.lastLiveAtMs
  await scenario.fault()
  if (scenario.freshFromFaultEnd === true) before = new Map(quoteSeq)
  const recovering = Date.now()
  await waitUntil(() => subjects.every((s) => (quoteSeq.get(s) ?? 0) > (before.get(s) ?? 0)), 30_000)
  const freshMs = Date.now() - recovering
  await waitUntil(async () => {
    const probe = await connect({ servers: scenario.snapshotUrl() })
    const seen = new Set<string>()
    probe.subscribe('quote.>', { callback: (_e, m) => { seen.add(m.subject) } })
    await probe.flush()
    await delay(50)
    await probe.close()
    return subjects.every((s) => seen.has(s))
  }, 30_000)
  const snapshotMs = Date.now() - recovering
  await delay(2000)
  // What core NATS delivered live is in; the history fills what it can of the rest.
  // A JetStream cluster that lost a server may still be electing its stream's leader: retry.
  let fillError: string | null = null
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await fillFromHistory(sub, trades, { filter: 'trade.>', sinceMs: lastLiveAtMs - 2000 })
      fillError = null
      break
    } catch (err) {
      fillError = `${(err as Error).message} (attempt ${attempt} of 5)`
      await delay(2000)
    }
  }

  for (const h of feeds.handlers) await h.stop() // no more trades; what was handed to the client drains
  await feeds.nc.flush().catch(() => {})
  await delay(500)
  const published = feeds.handlers.reduce((n, h) => n + h.stats.trades, 0)
  // Trades that arrived live after the fill were never lost; count them with the live ones.
  const received = trades.live
  const filled = trades.filled
  const duplicates = trades.duplicates
  await sub.close()
  await feeds.close()
  await scenario.cleanup()
  return {
    describe: scenario.describe,
    published,
    received,
    lost: published - received,
    filled,
    lostAfterFill: published - received - filled,
    fillError,
    duplicates,
    freshMs,
    snapshotMs
  }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:faults --', 'What a failure costs: trades lost, and time until the state is whole again, per fault scenario.', CLI)); return }
  for (const name of o.scenarios) if (!(name in SCENARIOS)) throw new UsageError(`--scenarios: unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(SCENARIOS).join(', ')}`)
  const startups: Array<{ name: string, ms: number[] }> = []
  if (o.startups > 0) {
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`)
    process.stdout.write(`start-up, from spawn to accepting connections (${o.startups} runs each)\n`)
    for (const s of STARTS) {
      const ms: number[] = []
      for (let i = 0; i < o.startups; i++) {
        const [port] = await freePorts(1)
        const [command, args] = s.command(port)
        ms.push(Math.round(await startupMs(command, args, port)))
      }
      startups.push({ name: s.name, ms })
      process.stdout.write(`  ${ms.map((m) => `${m} ms`).join(', ')}: ${s.name}\n`)
    }
  }
  process.stdout.write(`3 venues x ${o.rate} msgs/s, ${Math.round(o.tradeRatio * 100)}% trades; ${o.runs} run(s) per scenario\n`)
  const results: Record<string, Array<Awaited<ReturnType<typeof crashOnce>>>> = {}
  for (const name of o.scenarios) {
    process.stdout.write(`\n${name}\n  run  trades published  received  lost  filled  still lost  duplicates  every quote fresh  whole snapshot\n`)
    results[name] = []
    for (let run = 1; run <= o.runs; run++) {
      const r = await crashOnce(name, o)
      results[name]?.push(r)
      if (run === 1) process.stdout.write(`  (${r.describe})\n`)
      process.stdout.write(`  ${String(run).padStart(3)}  ${String(r.published).padStart(16)}  ${String(r.received).padStart(8)}  ${String(r.lost).padStart(4)}` +
        `  ${String(r.filled).padStart(6)}  ${String(r.lostAfterFill).padStart(10)}  ${String(r.duplicates).padStart(10)}  ${`${r.freshMs} ms`.padStart(17)}  ${`${r.snapshotMs} ms`.padStart(14)}\n` +
        (r.fillError === null ? '' : `       the history fill failed: ${r.fillError}\n`))
    }
  }
  // The report README and DEPLOYMENT take their failure-cost figures from.
  const range = (xs: number[]): string => { const lo = Math.min(...xs); const hi = Math.max(...xs); return lo === hi ? lo.toLocaleString('en-US') : `${lo.toLocaleString('en-US')}–${hi.toLocaleString('en-US')}` }
  const command = `npm run bench:faults -- ${process.argv.slice(2).join(' ')}`.trim()
  const lines = ['# What a failure costs', '', `${new Date().toISOString()}; Node ${process.version}; ${os.availableParallelism()} cores; made by \`${command}\`; 3 venues x ${o.rate} msgs/s, ${Math.round(o.tradeRatio * 100)}% trades, ${o.runs} run(s) per scenario.`, '',
    'Trades lost live are what core NATS did not deliver; the subscriber then asks the broker\'s trade history (an ordered JetStream consumer, `traders/history-fill.ts`) for them.', '',
    '| failure | trades published | lost live | filled from the history | still lost | live duplicates | every quote fresh again | a new subscriber\'s snapshot whole |', '|---|---|---|---|---|---|---|---|',
    ...Object.entries(results).map(([name, runs]) => `| ${runs[0]?.describe ?? name} | ${range(runs.map((r) => r.published))} | ${range(runs.map((r) => r.lost))} | ${range(runs.map((r) => r.filled))} | ${range(runs.map((r) => r.lostAfterFill))} | ${range(runs.map((r) => r.duplicates))} | ${range(runs.map((r) => r.freshMs))} ms | ${range(runs.map((r) => r.snapshotMs))} ms |`), '',
    ...Object.entries(results).filter(([, runs]) => runs.some((r) => r.fillError !== null)).map(([name, runs]) =>
      `- ${name}: the history fill failed in ${runs.filter((r) => r.fillError !== null).length} of ${runs.length} runs (${[...new Set(runs.map((r) => r.fillError).filter((e) => e !== null))].join('; ')})`), '',
    ...(startups.length === 0 ? [] : ['## Start-up', '', 'From spawn to the first TCP connection accepted (a restart waits this long before anyone can reconnect).', '',
      '| broker | start-up | runs |', '|---|---|---|', ...startups.map((s) => `| ${s.name} | ${range(s.ms)} ms | ${s.ms.length} |`), ''])]
  const dir = path.resolve(ROOT, o.out)
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), command, options: o, results, startups }, null, 2)}\n`)
  writeFileSync(path.join(dir, 'summary.md'), lines.join('\n'))
  process.stdout.write(`\nReport: ${path.relative(ROOT, dir)}/summary.md\n`)
})
