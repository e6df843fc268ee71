/**
 * `npm start`: the live demo in one command. Starts the broker, the three simulated venues with
 * their feed handlers, the services and a set of bots, each in its own process, prints the
 * addresses, then a compact status line every second. Ctrl-C stops everything cleanly.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { bundleCheckout, loaderFlags } from '../broker/bundle.ts'
import { cpuQuotaCores } from '../broker/cpu-quota.ts'
import { ALLOCATOR_ENV, NODE_FLAGS, quotaFlags } from '../broker/process-settings.ts'
import { allowedHostsProblem } from '../lib/allowed-hosts.ts'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { waitForPort } from '../lib/ports.ts'
import { formatUs } from '../lib/histogram.ts'
import { startDashboard, type RunningDashboard } from './server.ts'
import { demoUsers } from '../traders/demo-users.ts'
import { watchGroupStats } from '../traders/stats.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export const DEMO_CLI = {
  rate: { type: 'integer', default: 200, min: 1, help: 'Venue messages per second per venue (calm market; bursts raise it)' },
  bots: { type: 'integer', default: 20, min: 0, help: 'Trader bots' },
  slow: { type: 'string', default: '10%', help: 'Slow bots: a percentage, fraction or count' },
  instruments: { type: 'list', default: ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD', 'DOGE-USD', 'BTC-USDT', 'ETH-USDT', 'SOL-USDT'], help: 'Instruments every venue lists' },
  seed: { type: 'integer', default: 1, help: 'Market model seed' },
  host: { type: 'string', default: '127.0.0.1', help: 'Interface the broker listens on' },
  port: { type: 'integer', default: 4222, min: 1, max: 65535, help: 'Broker NATS port' },
  wsPort: { type: 'integer', default: 8080, min: 1, max: 65535, help: 'Broker WebSocket port' },
  httpPort: { type: 'integer', default: 8222, min: 1, max: 65535, help: 'Broker monitoring port' },
  dashboardPort: { type: 'integer', default: 3000, min: 0, max: 65535, help: 'Dashboard HTTP port (0 = off)' },
  workers: { type: 'integer', default: 1, min: 1, max: 64, help: 'Broker worker processes (one is plenty on a laptop; the feeds and bots need cores too)' },
  auth: { type: 'boolean', default: true, help: 'Users with permissions: only the feeds may publish prices, anyone may watch (--no-auth: an open broker)' },
  logLevel: { type: 'string', default: 'warn', choices: ['error', 'warn', 'info', 'debug'], help: 'Log level of every component' },
  allowedHosts: {
    type: 'list', default: [],
    help: 'Host names the monitoring port and the dashboard answer besides IP addresses and localhost (the broker\'s ' +
      '--http-allowed-hosts and the dashboard\'s --allowed-hosts; a guard against DNS rebinding)'
  }
} satisfies OptionTable

/** How long a child's clean exit waits for this process's own Ctrl-C before it is told as unexpected. */
const CLEAN_EXIT_GRACE_MS = 2000

interface Child {
  name: string
  process: ChildProcess
  exited: Promise<number | null>
}

function start (
  name: string,
  script: string,
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = []
): Child {
  // The broker starts from its bundle, as `npm run broker` runs it; the rest from their sources through tsx.
  const child = fork(path.resolve(ROOT, script), args, { cwd: ROOT, execArgv: [...nodeFlags, ...loaderFlags(script)], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ...env } })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { name, process: child, exited }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), DEMO_CLI)
  if (o.help) {
    process.stdout.write(helpText('npm start --', 'tickfan live demo: broker, simulated venues and feed handlers, services and trader bots.', DEMO_CLI))
    return
  }
  if (new Set([o.port, o.wsPort, o.httpPort, o.dashboardPort === 0 ? -1 : o.dashboardPort]).size !== 4) throw new UsageError('--port, --ws-port, --http-port and --dashboard-port must differ')
  const hostsProblem = allowedHostsProblem(o.allowedHosts)
  if (hostsProblem !== null) throw new UsageError(`--allowed-hosts: ${hostsProblem}`)
  const t0 = Date.now()
  const natsUrl = `nats://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${o.port}`
  const httpUrl = `http://127.0.0.1:${o.httpPort}`
  const children: Child[] = []
  let stopping = false
  const stopAll = async (code: number): Promise<never> => {
    stopping = true
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGTERM')
    const killer = setTimeout(() => { for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL') }, 5000)
    await Promise.all(children.map((c) => c.exited))
    clearTimeout(killer)
    process.exit(code)
  }
  const watch = (c: Child): void => {
    void c.exited.then((code) => {
      if (stopping) return
      const unexpected = (): void => {
        if (stopping) return
        process.stderr.write(`${c.name} stopped unexpectedly (exit code ${code}): stopping the demo\n`)
        void stopAll(1)
      }
      // Ctrl-C reaches the whole foreground process group: the children stop cleanly (exit code
      // 0) on their own SIGINT, and one may be seen gone before this process's own SIGINT
      // handler has run. A clean exit waits for that signal a moment; a crash is told at once.
      if (code === 0) setTimeout(unexpected, CLEAN_EXIT_GRACE_MS)
      else unexpected()
    })
  }

  const users = o.auth ? await demoUsers() : null
  const authArgs: string[] = []
  if (users !== null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-demo-'))
    const file = path.join(dir, 'auth.json')
    writeFileSync(file, JSON.stringify({ authorization: users.authorization }, null, 2), { mode: 0o600 })
    authArgs.push('--auth', file)
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  const broker = start('broker', bundleCheckout(ROOT), ['--workers', String(o.workers), '--host', o.host, '--port', String(o.port), `--ws-port=${o.wsPort}`,
    `--http-port=${o.httpPort}`, `--http-allowed-hosts=${o.allowedHosts.join(',')}`, '--log-level', o.logLevel, ...authArgs], { ...ALLOCATOR_ENV }, [...NODE_FLAGS, ...(o.workers === 1 ? quotaFlags(cpuQuotaCores(), 1) : [])])
  children.push(broker)
  watch(broker)
  await waitForPort(o.port, 20_000, broker.exited.then((code) => { throw new Error(`the broker exited at start (code ${code}): is port ${o.port}, ${o.wsPort} or ${o.httpPort} in use? Choose others with --port, --ws-port, --http-port`) }))
  await waitForPort(o.httpPort)

  const common = ['--nats', natsUrl]
  for (const [name, script, args] of [
    ['feeds', 'feeds/main.ts', [...common, '--rate', String(o.rate), '--seed', String(o.seed), '--instruments', o.instruments.join(','), '--log-level', o.logLevel]],
    ['services', 'traders/services-main.ts', [...common, '--quiet']],
    ['traders', 'traders/main.ts', [...common, '--bots', String(o.bots), '--slow', o.slow, '--quiet']]
  ] as const) {
    const c = start(name, script, [...args], users?.env[name] ?? {})
    children.push(c)
    watch(c)
  }

  let dashboard: RunningDashboard | null = null
  if (o.dashboardPort > 0) {
    try {
      dashboard = await startDashboard({ port: o.dashboardPort, wsUrl: `ws://127.0.0.1:${o.wsPort}`, varzUrl: `${httpUrl}/varz`, allowedHosts: o.allowedHosts })
    } catch (err) {
      process.stderr.write(`the dashboard could not start on port ${o.dashboardPort} (${(err as Error).message}); use --dashboard-port\n`)
      await stopAll(1)
    }
  }

  const nc = await connect({ servers: natsUrl, name: 'tickfan-demo' })
  const groups = watchGroupStats(nc, (line) => process.stderr.write(`${line}\n`)).groups
  let bboSeen = false
  nc.subscribe('bbo.>', { max: 1, callback: () => { bboSeen = true } })
  const deadline = Date.now() + 30_000
  while (!(bboSeen && (o.bots === 0 || (groups.get('fast')?.received ?? groups.get('slow')?.received ?? 0) > 0))) {
    if (Date.now() > deadline) { process.stderr.write('the demo did not become ready within 30 s\n'); await stopAll(1) }
    await new Promise((r) => setTimeout(r, 100))
  }
  process.stdout.write([
    `tickfan demo ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `  NATS        ${natsUrl}`,
    `  WebSocket   ws://127.0.0.1:${o.wsPort}`,
    `  Monitoring  ${httpUrl}/varz  /connz  /subsz  /lvc?subject=quote.>  /metrics`,
    `  Dashboard   ${dashboard === null ? 'off' : dashboard.url}`,
    users === null
      ? '  Access      open (--no-auth): any client may publish'
      : '  Access      anyone may watch and request prices; only the feed handlers may publish quotes and trades',
    `  ${o.bots} bots (${o.slow} slow), ${o.instruments.length} instruments on binance, coinbase and kraken at ${o.rate} msgs/s each`,
    '  Ctrl-C stops everything.',
    ''
  ].join('\n'))

  let previous: { in: number, out: number, conflated: number, at: number } | null = null
  const status = setInterval(() => {
    fetch(`${httpUrl}/varz`).then(async (res) => await res.json() as { in_msgs: number, out_msgs: number, slow_consumers: number, connections: number, tickfan: { conflated: number } }).then((v) => {
      const now = Date.now()
      const fast = groups.get('fast')
      if (previous !== null) {
        const secs = (now - previous.at) / 1000
        const rate = (a: number, b: number): string => Math.round((a - b) / secs).toLocaleString('en-US')
        process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ticks in ${rate(v.in_msgs, previous.in)}/s  deliveries ${rate(v.out_msgs, previous.out)}/s  ` +
          `latency p50 ${fast === undefined ? '-' : formatUs(fast.latencyUs.p50)} p99 ${fast === undefined ? '-' : formatUs(fast.latencyUs.p99)}  ` +
          `conflated ${rate(v.tickfan.conflated, previous.conflated)}/s  slow-consumer disconnects ${v.slow_consumers}  connections ${v.connections}\n`)
      }
      previous = { in: v.in_msgs, out: v.out_msgs, conflated: v.tickfan.conflated, at: now }
    }).catch(() => {})
  }, 1000)

  const shutdown = (signal: string): void => {
    stopping = true // children stopping from here on are expected
    clearInterval(status)
    process.stdout.write(`\n${signal}: stopping ${children.map((c) => c.name).join(', ')}...\n`)
    void nc.close().catch(() => {}).then(async () => { await dashboard?.close(); await stopAll(0) })
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
})
