/**
 * `npm run soak -- --minutes 10`: the demo's components at load (broker, feeds, services, fast
 * and slow bots, each its own process) while misbehaving clients come and go: subscribers that
 * connect, take a snapshot and leave; subscribers that stop reading at the TCP level; clients
 * that send garbage; clients that send half a command and go silent. Every few seconds it
 * samples the broker (/varz, /metrics): resident and heap memory, open descriptors, event-loop
 * delay, published and delivered messages per second, connections. It passes when memory and
 * descriptors show no upward trend, throughput holds, every stalled subscriber was cut off, and
 * no component died. Writes reports/soak-<time>/ (summary.md, samples.json, soak.svg).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { freePorts, waitForPort } from '../lib/ports.ts'
import { ROOT, runCommand, type CommandProcess } from '../broker/test-support/processes.ts'
import { brokerBundle } from './harness/processes.ts'
import { RawClient } from '../broker/test-support/raw-client.ts'
import { lineChart } from './report/svg.ts'
import { DEFAULT_SOAK_LIMITS, judgeHistory, judgeSoak, type SoakCheck, type SoakSample } from './soak-analysis.ts'

interface HistoryStreamVarz { bytes: number, held_bytes: number, messages: number, removed: Record<string, number> }
interface VarzForSoak {
  in_msgs: number
  out_msgs: number
  connections: number
  tickfan: { history: { streams: HistoryStreamVarz[] } | null }
}

/** The history's size from /varz, summed over its streams (none when the broker keeps none). */
function historyOf (varz: VarzForSoak): Pick<SoakSample, 'historyBytes' | 'historyHeldBytes' | 'historyMessages' | 'historyRemoved'> {
  const streams = varz.tickfan.history?.streams
  if (streams === undefined) return {}
  const sum = (f: (s: HistoryStreamVarz) => number): number => streams.reduce((n, s) => n + f(s), 0)
  return {
    historyBytes: sum((s) => s.bytes),
    historyHeldBytes: sum((s) => s.held_bytes),
    historyMessages: sum((s) => s.messages),
    historyRemoved: sum((s) => Object.values(s.removed).reduce((a: number, b: number) => a + b, 0))
  }
}

const CLI = {
  minutes: { type: 'number', default: 10, min: 0.5, help: 'How long to soak' },
  rate: { type: 'integer', default: 1000, min: 1, help: 'Venue messages per second per venue (three venues)' },
  tradeRatio: { type: 'number', default: 0.1, min: 0, max: 1, help: 'Fraction of venue messages that are trades (the demo: 0.1 of 200/s per venue, 60 trades/s)' },
  historyMaxBytes: { type: 'integer', default: 256 * 1024 * 1024, min: 1024, help: 'The broker\'s --history-max-bytes (lower it to reach the bound in a short soak)' },
  bots: { type: 'integer', default: 20, min: 0, help: 'Trader bots' },
  slow: { type: 'string', default: '20%', help: 'Slow bots: a percentage, fraction or count' },
  workers: { type: 'integer', default: 1, min: 1, help: 'Broker workers' },
  sampleSeconds: { type: 'integer', default: 5, min: 1, help: 'Seconds between samples of the broker' },
  out: { type: 'string', default: '', help: 'Report folder (default reports/soak-<time>)' }
} satisfies OptionTable

interface ChaosCounts {
  churned: number
  stalledStarted: number
  stalledCutOff: number
  stalledNotCutOff: number
  garbageClosed: number
  slowlorisOpened: number
  errors: number
}

/** Misbehaving clients on a schedule; every one of them is owned and closed here. */
const STALL_MS = 20_000

function startChaos (port: number, natsUrl: string): { counts: ChaosCounts, stop: () => void } {
  const counts: ChaosCounts = {
    churned: 0,
    stalledStarted: 0,
    stalledCutOff: 0,
    stalledNotCutOff: 0,
    garbageClosed: 0,
    slowlorisOpened: 0,
    errors: 0
  }
  const open = new Set<RawClient>()
  const timers: NodeJS.Timeout[] = []
  const every = (ms: number, action: () => Promise<void>): void => {
    timers.push(setInterval(() => { action().catch(() => { counts.errors++ }) }, ms))
  }
  // A viewer that connects, takes the snapshot and leaves.
  every(1000, async () => {
    const nc = await connect({ servers: natsUrl, name: 'soak-churn' })
    nc.subscribe('quote.>', { callback: () => {} })
    await nc.flush()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await nc.close()
    counts.churned++
  })
  // A subscriber to everything that stops reading at the TCP level for 20 s. The broker must
  // cut it off, saying why: when it reads again it finds the -ERR and the end of the stream.
  every(10_000, async () => {
    const raw = await RawClient.connect(port)
    open.add(raw)
    raw.send('CONNECT {"verbose":false,"pedantic":false}\r\nSUB > 1\r\nPING\r\n')
    raw.socket.pause()
    counts.stalledStarted++
    await new Promise((resolve) => setTimeout(resolve, STALL_MS))
    raw.socket.resume()
    const cutOff = await Promise.race([
      raw.closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))
    ])
    if (cutOff && /-ERR 'Slow Consumer/.test(raw.text.slice(-300))) counts.stalledCutOff++
    else counts.stalledNotCutOff++
    raw.close()
    open.delete(raw)
  })
  // Garbage after CONNECT: closed with a -ERR.
  every(5000, async () => {
    const raw = await RawClient.connect(port)
    open.add(raw)
    raw.send(`CONNECT {"verbose":false}\r\nPUB quote.x 5\r\nhello world\r\n${String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(Math.random() * 256)))}`)
    await raw.closed
    open.delete(raw)
    counts.garbageClosed++
  })
  // Half a command, then silence (closed as stale by the broker's pings, minutes later).
  every(15_000, async () => {
    const raw = await RawClient.connect(port)
    raw.autoPong = false
    open.add(raw)
    raw.send('CONNECT {"verbose":false}\r\nPUB quote.slow 100\r\nhalf')
    counts.slowlorisOpened++
    void raw.closed.then(() => open.delete(raw))
  })
  return {
    counts,
    stop () {
      for (const t of timers) clearInterval(t)
      for (const raw of open) raw.close()
    }
  }
}

/** Reads one of the broker's default process metrics from its Prometheus text. */
function promValue (text: string, name: string): number {
  const m = new RegExp(`^tickfan_process_${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text)
  return m === null ? Number.NaN : Number(m[1])
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run soak --', 'Soak: the demo at load with misbehaving clients; memory, descriptors, event-loop delay and throughput over time.', CLI)); return }
  const [port, httpPort] = await freePorts(2)
  const natsUrl = `nats://127.0.0.1:${port}`
  const httpUrl = `http://127.0.0.1:${httpPort}`
  const components: Array<{ name: string, process: CommandProcess }> = []
  const start = (
    name: string,
    script: string,
    args: string[]
  ): void => { components.push({ name, process: runCommand(script, args) }) }
  // The broker as it ships (its bundle), as every bench command runs it.
  start('broker', brokerBundle(ROOT), ['--workers', String(o.workers), '--host', '127.0.0.1', '--port', String(port), `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'error',
    '--history-max-bytes', String(o.historyMaxBytes)])
  await waitForPort(port, 20_000)
  start('feeds', 'feeds/main.ts', ['--nats', natsUrl, '--rate', String(o.rate), '--trade-ratio', String(o.tradeRatio), '--log-level', 'error'])
  start('services', 'traders/services-main.ts', ['--nats', natsUrl, '--quiet'])
  start('traders', 'traders/main.ts', ['--nats', natsUrl, '--bots', String(o.bots), '--slow', o.slow, '--quiet'])
  let died: string | null = null
  let stopping = false
  for (const c of components) void c.process.exited.then((code) => { if (!stopping) died ??= `${c.name} exited (code ${code}) during the soak: ${c.process.output().slice(-500)}` })

  const chaos = startChaos(port, natsUrl)
  const samples: SoakSample[] = []
  const startedAt = Date.now()
  const endAt = startedAt + o.minutes * 60_000
  let previous: { t: number, inMsgs: number, outMsgs: number } | null = null
  process.stdout.write(`soak: ${o.minutes} min, 3 venues x ${o.rate} msgs/s, ${o.bots} bots (${o.slow} slow), misbehaving clients; a sample every ${o.sampleSeconds} s\n`)
  let interrupted = false
  process.once('SIGINT', () => { interrupted = true })
  while (Date.now() < endAt && died === null && !interrupted) {
    await new Promise((resolve) => setTimeout(resolve, o.sampleSeconds * 1000))
    try {
      const [varz, metrics] = await Promise.all([
        fetch(`${httpUrl}/varz`).then(async (r) => await r.json() as VarzForSoak),
        fetch(`${httpUrl}/metrics`).then(async (r) => await r.text())
      ])
      const t = Date.now() - startedAt
      if (previous !== null) {
        const secs = (t - previous.t) / 1000
        const s: SoakSample = {
          t,
          rssBytes: promValue(metrics, 'process_resident_memory_bytes'),
          heapUsedBytes: promValue(metrics, 'nodejs_heap_size_used_bytes'),
          openFds: promValue(metrics, 'process_open_fds'),
          eventLoopP99Ms: promValue(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000,
          inMsgsPerSec: (varz.in_msgs - previous.inMsgs) / secs,
          outMsgsPerSec: (varz.out_msgs - previous.outMsgs) / secs,
          connections: varz.connections,
          ...historyOf(varz)
        }
        samples.push(s)
        const c = chaos.counts
        process.stdout.write(`  ${(t / 1000).toFixed(0).padStart(5)} s  rss ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB  heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB  fds ${s.openFds}  ` +
          `loop p99 ${s.eventLoopP99Ms.toFixed(1)} ms  in ${Math.round(s.inMsgsPerSec).toLocaleString('en-US')}/s  out ${Math.round(s.outMsgsPerSec).toLocaleString('en-US')}/s  conns ${s.connections}  ` +
          `${s.historyBytes === undefined ? '' : `history ${(s.historyBytes / 2 ** 20).toFixed(1)} MiB  `}chaos: churn ${c.churned}, stalled ${c.stalledStarted} (cut off ${c.stalledCutOff}, not ${c.stalledNotCutOff}), garbage ${c.garbageClosed}, slowloris ${c.slowlorisOpened}\n`)
      }
      previous = { t, inMsgs: varz.in_msgs, outMsgs: varz.out_msgs }
    } catch (err) {
      process.stdout.write(`  sample failed: ${(err as Error).message}\n`)
    }
  }
  chaos.stop()
  stopping = true
  for (const c of [...components].reverse()) await c.process.stop('SIGINT')

  const checks: SoakCheck[] = [
    ...judgeSoak(
      samples,
      { ...DEFAULT_SOAK_LIMITS, warmupMs: Math.min(DEFAULT_SOAK_LIMITS.warmupMs, o.minutes * 60_000 / 5) }
    ),
    judgeHistory(samples, o.historyMaxBytes),
    { name: 'every component stayed up', pass: died === null, detail: died ?? 'broker, feeds, services and traders ran to the end' },
    { name: 'every stalled subscriber was cut off, with a reason', pass: chaos.counts.stalledNotCutOff === 0 && chaos.counts.stalledCutOff > 0, detail: `${chaos.counts.stalledCutOff} cut off with -ERR 'Slow Consumer...', ${chaos.counts.stalledNotCutOff} not (${chaos.counts.stalledStarted} started, each stalled ${STALL_MS / 1000} s)` },
    { name: 'the run was not interrupted', pass: !interrupted, detail: interrupted ? 'stopped by Ctrl-C before the end' : `${o.minutes} min` }
  ]
  const pass = checks.every((c) => c.pass)
  const stamp = new Date(startedAt).toISOString().replace(/[:.]/g, '-').slice(0, 19)
  const dir = o.out !== '' ? path.resolve(o.out) : path.join(ROOT, 'reports', `soak-${stamp}`)
  mkdirSync(dir, { recursive: true })
  const minutes = samples.map((s) => s.t / 60_000)
  const series = (
    name: string,
    color: string,
    values: number[]
  ): {
    name: string,
    color: string,
    points: Array<[number, number]>
  } => ({ name, color, points: values.map((v, i) => [minutes[i] as number, v]) })
  const svg = [
    lineChart([series('RSS', '#1f77b4', samples.map((s) => s.rssBytes / 2 ** 20)), series('heap used', '#ff7f0e', samples.map((s) => s.heapUsedBytes / 2 ** 20))], { title: 'Broker memory', xLabel: 'minutes', yLabel: 'MiB' }),
    lineChart([series('open fds', '#2ca02c', samples.map((s) => s.openFds)), series('connections', '#9467bd', samples.map((s) => s.connections))], { title: 'Descriptors and connections', xLabel: 'minutes', yLabel: 'count' }),
    lineChart([series('published/s', '#d62728', samples.map((s) => s.inMsgsPerSec)), series('delivered/s / 10', '#8c564b', samples.map((s) => s.outMsgsPerSec / 10))], { title: 'Throughput', xLabel: 'minutes', yLabel: 'messages/s' })
  ]
  const c = chaos.counts
  const summary = [
    `# Soak ${new Date(startedAt).toISOString()}: ${pass ? 'PASS' : 'FAIL'}`,
    '',
    `Command: \`npm run soak -- --minutes ${o.minutes} --rate ${o.rate} --trade-ratio ${o.tradeRatio} --history-max-bytes ${o.historyMaxBytes} --bots ${o.bots} --slow ${o.slow} --workers ${o.workers}` +
    `${o.out === '' ? '' : ` --out ${o.out}`}\`, Node ${process.version}, ${samples.length} samples every ${o.sampleSeconds} s.`,
    '',
    `Misbehaving clients: ${c.churned} connect-snapshot-leave, ${c.stalledStarted} stopped reading for ${STALL_MS / 1000} s (${c.stalledCutOff} found themselves cut off with a Slow Consumer -ERR, ${c.stalledNotCutOff} not), ${c.garbageClosed} sent garbage (closed), ${c.slowlorisOpened} sent half a command and went silent; ${c.errors} chaos actions failed.`,
    '',
    '| check | verdict | detail |',
    '|---|---|---|',
    ...checks.map((k) => `| ${k.name} | ${k.pass ? 'PASS' : 'FAIL'} | ${k.detail} |`),
    '',
    '![soak](soak.svg)',
    ''
  ].join('\n')
  writeFileSync(path.join(dir, 'summary.md'), summary)
  writeFileSync(path.join(dir, 'samples.json'), JSON.stringify({ options: o, chaos: c, checks, samples }, null, 1))
  writeFileSync(path.join(dir, 'soak.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="${300 * svg.length}">${svg.map((s, i) => `<g transform="translate(0 ${300 * i})">${s}</g>`).join('')}</svg>`)
  process.stdout.write(`\n${checks.map((k) => `${k.pass ? 'PASS' : 'FAIL'}  ${k.name}: ${k.detail}`).join('\n')}\n\nreport: ${path.relative(process.cwd(), dir)}/summary.md\n`)
  process.exit(pass ? 0 : 1)
})
