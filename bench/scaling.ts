/**
 * `npm run bench:scaling`: deliveries per second and broker CPU per delivery as the broker gets
 * more workers (tickfan --workers N) or threads (nats-server with GOMAXPROCS = N), side by side
 * in one run, with efficiency E(N) = rate(N) / (N x rate(1)).
 *
 * The load scales with the broker so that the sweep measures the broker, not its clients: one
 * lean generator process (bench/load/lockstep.ts, raw sockets) per load core, each running
 * several publisher sessions pipelined with their subscribers. Each generator's CPU is reported:
 * a generator past 90% of its core measured itself, and the row says so. The broker gets cores
 * 0..N-1; the load the upper half of the machine. Where N passes half the cores the two share
 * cores, which the report says.
 *
 * On a machine with fewer than 16 cores it adds a model, labelled as one: from tickfan's CPU per
 * delivery at 1 and 2 workers, what each further worker costs per delivery (the mesh hop, last
 * values kept on every worker), and the efficiency that cost alone would allow at 4, 8 and 16.
 * Writes reports/scaling/results.json and reports/scaling/summary.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { LockstepLoad } from './harness/lockstep.ts'
import { machineLoad } from './harness/machine.ts'
import { coreLayout, cpuNanoseconds, ROOT, startNatsServerProcess, startTickfanProcess, type BrokerProcess } from './harness/processes.ts'
import { median } from './harness/stats.ts'

const CLI = {
  maxWorkers: { type: 'integer', default: os.availableParallelism(), min: 1, max: 256, help: 'Largest worker count (the sweep is 1, 2, 4, ... up to it)' },
  targets: { type: 'list', default: ['tickfan', 'nats-server'], help: 'Brokers to measure: tickfan, nats-server' },
  subscribers: { type: 'integer', default: 50, min: 1, help: 'Subscriber connections in all' },
  publishers: { type: 'integer', default: 4, min: 1, help: 'Publisher connections in all (each with its share of the subscribers)' },
  seconds: { type: 'number', default: 4, min: 0.5, help: 'Seconds per measurement' },
  repeat: { type: 'integer', default: 3, min: 1, max: 20, help: 'Measurements per worker count (the median is reported)' },
  window: { type: 'integer', default: 8, min: 1, help: 'Rounds of 100 messages a publisher may have in flight' },
  out: { type: 'string', default: path.join(ROOT, 'reports/scaling'), help: 'Where the report goes' },
  tickfanRoot: { type: 'string', default: '', help: 'Run the tickfan broker of another checkout (to compare builds) [default: this one]' }
} satisfies OptionTable

interface Row {
  target: string
  workers: number
  deliveriesPerSec: number[]
  brokerNsPerDelivery: number[]
  /** Broker CPU per published message, divided by the workers: what each worker spends on a message. */
  brokerNsPerMessagePerWorker: number[]
  generatorBusy: number
  brokerCores: string
  sharesCoresWithLoad: boolean
}

function sweep (max: number): number[] {
  const out: number[] = []
  for (let n = 1; n < max; n *= 2) out.push(n)
  out.push(max)
  return [...new Set(out)]
}

async function workersReady (broker: BrokerProcess, workers: number): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    try {
      const h = await (await fetch(`http://127.0.0.1:${broker.httpPort}/healthz`)).json() as { workers?: number }
      if ((h.workers ?? 1) >= workers) return
    } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`tickfan did not report ${workers} workers within 30 s`)
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:scaling --', 'Broker scaling over workers (tickfan) and threads (nats-server GOMAXPROCS), side by side.', CLI)); return }
  for (const t of o.targets) if (t !== 'tickfan' && t !== 'nats-server') throw new UsageError(`--targets: unknown target ${JSON.stringify(t)} (tickfan, nats-server)`)
  if (o.targets.includes('nats-server') && natsServerVersion() === null) throw new UsageError('nats-server is not on PATH (apt-get install -y nats-server), or leave it out: --targets tickfan')
  const cores = os.availableParallelism()
  const layout = coreLayout()
  const loadCores = layout.load ?? `0-${cores - 1}`
  const generators = Math.max(1, Math.min(8, cores - Math.floor(cores / 2)))
  const started = Date.now()
  const step = (text: string): void => { process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`) }
  process.stdout.write(`tickfan bench:scaling: ${cores} cores; workers ${sweep(o.maxWorkers).join(', ')}; ${generators} generator process(es) on cores ${loadCores}; ` +
    `${o.publishers} publishers, ${o.subscribers} subscribers, ${o.seconds} s x ${o.repeat} per point\n`)
  const rows: Row[] = []
  const machine0 = machineLoad()
  for (const workers of sweep(o.maxWorkers)) {
    for (const target of o.targets) {
      const brokerCores = cores < 2 ? undefined : workers === 1 ? '0' : `0-${Math.min(workers, cores) - 1}`
      const broker = target === 'tickfan' ? await startTickfanProcess(brokerCores, [], workers, o.tickfanRoot === '' ? ROOT : path.resolve(o.tickfanRoot)) : await startNatsServerProcess(brokerCores, workers)
      const loads = Array.from({ length: generators }, () => new LockstepLoad(loadCores))
      try {
        if (target === 'tickfan') await workersReady(broker, workers)
        for (let p = 0; p < o.publishers; p++) {
          const subscribers = Math.floor(o.subscribers / o.publishers) + (p < o.subscribers % o.publishers ? 1 : 0)
          await (loads[p % generators] as LockstepLoad).open(`p${p}`, { url: broker.natsUrl, path: 'plain', subscribers, subjects: 100, payloadBytes: 128 })
        }
        await Promise.all(loads.map(async (l) => await l.throughput(1, o.window))) // warm-up
        const row: Row = { target, workers, deliveriesPerSec: [], brokerNsPerDelivery: [], brokerNsPerMessagePerWorker: [], generatorBusy: 0, brokerCores: brokerCores ?? 'any', sharesCoresWithLoad: workers > cores - Math.floor(cores / 2) || cores < 2 }
        for (let r = 0; r < o.repeat; r++) {
          const cpu0 = cpuNanoseconds(broker.pid) ?? 0
          const results = await Promise.all(loads.map(async (l) => await l.throughput(o.seconds, o.window)))
          const cpu = (cpuNanoseconds(broker.pid) ?? cpu0) - cpu0
          const delivered = results.reduce((n, x) => n + x.delivered, 0)
          const elapsed = Math.max(...results.map((x) => x.elapsedMs)) / 1000
          row.deliveriesPerSec.push(delivered / elapsed)
          row.brokerNsPerDelivery.push(cpu / Math.max(1, delivered))
          // Each publisher's messages reach its own share of the subscribers: messages = deliveries / that share.
          const messages = delivered / (o.subscribers / o.publishers)
          row.brokerNsPerMessagePerWorker.push(cpu / Math.max(1, messages) / workers)
          row.generatorBusy = Math.max(row.generatorBusy, ...results.map((x) => x.cpuSeconds * 1000 / x.elapsedMs))
        }
        rows.push(row)
        step(`${target} x${workers}: ${Math.round(median(row.deliveriesPerSec)).toLocaleString('en-US')} deliveries/s (${row.deliveriesPerSec.map((v) => Math.round(v / 1000)).join(', ')} k), ` +
          `broker CPU ${median(row.brokerNsPerDelivery).toFixed(0)} ns/delivery, busiest generator ${(row.generatorBusy * 100).toFixed(0)}%`)
      } finally {
        for (const l of loads) await l.stop()
        await broker.stop()
      }
    }
  }
  const machine1 = machineLoad()
  const base = (target: string): number | undefined => {
    const r = rows.find((x) => x.target === target && x.workers === 1)
    return r === undefined ? undefined : median(r.deliveriesPerSec)
  }
  const efficiency = (r: Row): number | null => {
    const b = base(r.target)
    return b === undefined ? null : median(r.deliveriesPerSec) / (r.workers * b)
  }
  const model = cores < 16 ? perWorkerCostModel(rows) : null
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch { /* not a checkout */ }
  const results = {
    date: new Date().toISOString(), commit, node: process.version, cores, cpu: os.cpus()[0]?.model ?? 'unknown', natsServer: natsServerVersion(),
    command: `npm run bench:scaling -- ${process.argv.slice(2).join(' ')}`.trim(), options: o, generators, loadCores,
    machine: { loadAverage1m: machine1.loadAverage1m, stealShare: machineLoad.steal(machine0, machine1) },
    rows: rows.map((r) => ({
      ...r,
      medianDeliveriesPerSec: median(r.deliveriesPerSec),
      medianBrokerNsPerDelivery: median(r.brokerNsPerDelivery),
      medianBrokerNsPerMessagePerWorker: median(r.brokerNsPerMessagePerWorker),
      efficiency: efficiency(r)
    })),
    model
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
  const lines = [
    '# tickfan scaling over broker workers', '',
    `${results.date}; commit ${commit.slice(0, 12)}; Node ${process.version}; ${results.cpu} x ${cores}; ${results.natsServer ?? 'nats-server absent'}; made by \`${results.command}\``, '',
    `Load: ${generators} generator process(es) on cores ${loadCores}, ${o.publishers} publishers and ${o.subscribers} subscribers (raw sockets, plain subject, 128-byte payloads, up to ${o.window} rounds of 100 in flight per publisher), ${o.seconds} s x ${o.repeat} per point, median shown.`, '',
    '| target | workers (GOMAXPROCS for nats-server) | broker cores | deliveries/s (median) | runs | broker CPU per delivery | broker CPU per message per worker | efficiency E(N) | busiest generator | note |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.rows.map((r) => `| ${r.target} | ${r.workers} | ${r.brokerCores} | ${fmt(r.medianDeliveriesPerSec)} | ${r.deliveriesPerSec.map((v) => fmt(v)).join(', ')} | ${r.medianBrokerNsPerDelivery.toFixed(0)} ns | ${(r.medianBrokerNsPerMessagePerWorker / 1000).toFixed(2)} us | ${r.efficiency === null ? '-' : r.efficiency.toFixed(2)} | ${(r.generatorBusy * 100).toFixed(0)}% | ${[
      r.sharesCoresWithLoad ? 'broker shares cores with the load' : '', r.generatorBusy > 0.9 ? 'generator saturated: measures the load, not the broker' : ''].filter((n) => n !== '').join('; ')} |`), ''
  ]
  if (model !== null) {
    lines.push('## Model (not a measurement)', '', model.text, '',
      '| workers | modelled CPU per delivery | modelled efficiency |', '|---|---|---|',
      ...model.points.map((p) => `| ${p.workers} | ${p.nsPerDelivery.toFixed(0)} ns | ${p.efficiency.toFixed(2)} |`), '')
  }
  mkdirSync(o.out, { recursive: true })
  writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(path.join(o.out, 'summary.md'), lines.join('\n'))
  process.stdout.write(`\n${lines.slice(4).join('\n')}\nReport: ${path.relative(process.cwd(), o.out)}/summary.md (results.json). ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
})

/**
 * A model from measured per-worker costs: with w workers each delivery costs a + b (w - 1) of
 * CPU, where a is the CPU per delivery on one worker and b what each further worker adds (from
 * the 2-worker measurement). With a core per worker, rate(w) is w / (a + b (w - 1)) and
 * E(w) = a / (a + b (w - 1)). It leaves out everything a small machine cannot show (cache and
 * memory-bandwidth contention, the kernel's share of loopback) and is labelled a model.
 */
function perWorkerCostModel (rows: readonly Row[]): {
  text: string,
  points: Array<{ workers: number, nsPerDelivery: number, efficiency: number }>
} | null {
  const one = rows.find((r) => r.target === 'tickfan' && r.workers === 1)
  const two = rows.find((r) => r.target === 'tickfan' && r.workers === 2)
  if (one === undefined || two === undefined) return null
  const a = median(one.brokerNsPerDelivery)
  const b = Math.max(0, median(two.brokerNsPerDelivery) - a)
  return {
    text: `From tickfan's measured broker CPU per delivery: a = ${a.toFixed(0)} ns on one worker, and each further worker adds b = ${b.toFixed(0)} ns (2 workers: ${median(two.brokerNsPerDelivery).toFixed(0)} ns). ` +
      'With a core per worker, E(w) = a / (a + b (w - 1)). This machine has too few cores to measure it. ' +
      (two.sharesCoresWithLoad ? 'Here the 2-worker run shared its cores with the load generators, so b holds that contention too: the model is a lower bound on efficiency.' : ''),
    points: [1, 2, 4, 8, 16].map((w) => ({
      workers: w,
      nsPerDelivery: a + b * (w - 1),
      efficiency: a / (a + b * (w - 1))
    }))
  }
}
