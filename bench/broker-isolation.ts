/**
 * `npm run bench:broker`: the broker's two headline claims, side by side with nats-server in
 * the same run, one process per role (broker pinned apart from the load where there are cores):
 *
 * 1. Isolation: a publisher at a fixed rate (default 40k msgs/s over 100 quote subjects,
 *    128-byte payloads), one fast subscriber, with and without one subscriber that stops
 *    reading. Target: tickfan's fast-subscriber p99 with the stalled one within 1.2x of
 *    without, and the broker's memory flat.
 * 2. Fan-out: 1 publisher, 10 subscribers with the official client; delivered msgs/s.
 *    Target: tickfan at least 0.8x nats-server.
 *
 * Writes reports/broker/results.json and summary.md (the figures README quotes).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { fanoutRun, isolationRun, type IsolationRun, type Target } from './harness/broker-runs.ts'
import { formatUs } from '../lib/histogram.ts'
import { ROOT, coreLayout } from './harness/processes.ts'
import type { FanoutResult } from './load/fanout.ts'
import { median } from './harness/stats.ts'

const CLI = {
  rate: { type: 'integer', default: 40_000, min: 1, help: 'Publish rate of the isolation runs (msgs/s)' },
  subjects: { type: 'integer', default: 100, min: 1, help: 'Quote subjects the publisher cycles through' },
  payload: { type: 'integer', default: 128, min: 40, help: 'Payload size in bytes' },
  seconds: { type: 'number', default: 10, min: 1, help: 'Measured seconds per isolation run' },
  warmup: { type: 'number', default: 2, min: 0, help: 'Warm-up seconds before recording' },
  fanoutSubscribers: { type: 'integer', default: 10, min: 1, help: 'Subscribers of the fan-out run' },
  fanoutMessages: { type: 'integer', default: 100_000, min: 1000, help: 'Messages published in the fan-out run' },
  repeat: { type: 'integer', default: 3, min: 1, help: 'Repetitions of the fan-out run (interleaved A B A B; the verdict uses the median)' },
  targets: { type: 'list', default: ['tickfan', 'nats-server'], help: 'Brokers to measure' }
} satisfies OptionTable

function progress (line: string): void {
  process.stdout.write(`  ${line}\n`)
}


runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run bench:broker --', 'Broker isolation under a stalled subscriber, and fan-out throughput, against nats-server in the same run.', CLI))
    return
  }
  const natsVersion = natsServerVersion()
  const targets = (o.targets as Target[]).filter((t) => {
    if (t === 'nats-server' && natsVersion === null) { process.stdout.write('nats-server is not on PATH: measuring tickfan alone (install: apt-get install -y nats-server)\n'); return false }
    return true
  })
  const layout = coreLayout()
  process.stdout.write(`tickfan broker benchmark: ${layout.cores} cores, broker on ${layout.broker ?? 'any'}, load on ${layout.load ?? 'any'}\n`)

  const isolation: IsolationRun[] = []
  process.stdout.write(`Isolation: ${o.rate} msgs/s over ${o.subjects} subjects, ${o.payload} B, ${o.warmup}+${o.seconds} s per run\n`)
  for (const target of targets) {
    for (const stalled of [false, true]) {
      const run = await isolationRun(target, stalled, o)
      isolation.push(run)
      const l = run.subscriber.latencyUs
      progress(`${target.padEnd(11)} ${stalled ? 'with stalled' : 'alone       '}  fast p50 ${formatUs(l.p50).padStart(9)}  p99 ${formatUs(l.p99).padStart(9)}  max ${formatUs(l.max).padStart(9)}  ` +
        `rss ${(run.memory.startBytes / 2 ** 20).toFixed(0)}->${(run.memory.endBytes / 2 ** 20).toFixed(0)} MiB  max pending ${(run.maxPendingBytes / 1024).toFixed(0)} KiB${run.valid ? '' : `  INVALID: ${run.invalidReason}`}`)
    }
  }

  process.stdout.write(`Fan-out: 1 publisher -> ${o.fanoutSubscribers} subscribers, ${o.fanoutMessages} messages, ${o.repeat} repetition(s)\n`)
  const fanout: Array<FanoutResult & { target: Target, brokerCpuSeconds: number }> = []
  for (let r = 0; r < o.repeat; r++) {
    for (const target of targets) {
      const run = await fanoutRun(target, o)
      fanout.push(run)
      progress(`${target.padEnd(11)} ${Math.round(run.deliveredPerSec).toLocaleString('en-US').padStart(10)} deliveries/s  broker CPU ${(run.brokerCpuSeconds * 1e6 / run.delivered).toFixed(2)} us/delivery`)
    }
  }

  const find = (
    t: Target,
    stalled: boolean
  ): IsolationRun | undefined => isolation.find((r) => r.target === t && r.stalled === stalled)
  const ratio = (t: Target): number | null => {
    const a = find(t, false); const b = find(t, true)
    return a === undefined || b === undefined ? null : b.subscriber.latencyUs.p99 / a.subscriber.latencyUs.p99
  }
  const fanMedian = (t: Target): number | null => {
    const runs = fanout.filter((f) => f.target === t).map((f) => f.deliveredPerSec)
    return runs.length === 0 ? null : median(runs)
  }
  const tfRatio = ratio('tickfan')
  const stalledRun = find('tickfan', true)
  const aloneRun = find('tickfan', false)
  const extraPeakMiB = stalledRun === undefined || aloneRun === undefined
    ? null
    : (stalledRun.memory.peakBytes - aloneRun.memory.peakBytes) / 2 ** 20
  // The bound the broker promises for one connection: one pending message per subscribed
  // subject, plus what its socket may buffer: below the high-water mark (256 KiB default)
  // before a write, and one flush turn (itself capped at the high-water mark) on top.
  const pendingBound = o.subjects * (o.payload + 64) + 2 * 256 * 1024
  const stalledPending = stalledRun?.maxPendingBytes ?? null
  const tfFan = fanMedian('tickfan'); const nsFan = fanMedian('nats-server')
  const fanRatio = tfFan !== null && nsFan !== null ? tfFan / nsFan : null
  const verdicts = [
    { target: 'fast-subscriber p99 with a stalled subscriber / without (tickfan)', limit: '<= 1.2', value: tfRatio, pass: tfRatio !== null && tfRatio <= 1.2 },
    { target: 'stalled connection pending bytes, max over the run (tickfan)', limit: `<= ${pendingBound}`, value: stalledPending, pass: stalledPending !== null && stalledPending <= pendingBound },
    { target: 'broker peak RSS with a stalled subscriber minus without (tickfan, MiB)', limit: '<= 32', value: extraPeakMiB, pass: extraPeakMiB !== null && extraPeakMiB <= 32 },
    { target: 'fan-out deliveries/s tickfan / nats-server', limit: '>= 0.8', value: fanRatio, pass: fanRatio !== null && fanRatio >= 0.8 }
  ]
  process.stdout.write('\nVerdict\n')
  for (const v of verdicts) progress(`${v.pass ? 'PASS' : 'FAIL'}  ${v.target}: ${v.value === null ? 'n/a' : v.value.toFixed(3)} (target ${v.limit})`)
  const nsRatio = ratio('nats-server')
  if (nsRatio !== null) progress(`info  nats-server fast-subscriber p99 with / without a stalled subscriber: ${nsRatio.toFixed(1)}x`)

  const dir = path.join(ROOT, 'reports/broker')
  mkdirSync(dir, { recursive: true })
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch { /* not a checkout */ }
  const environment = { commit, node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: layout.cores, pinning: layout, natsServer: natsVersion, options: o }
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ environment, isolation, fanout, verdicts }, null, 2))
  const lines = [
    `# tickfan broker benchmark, ${new Date().toISOString()}`, '',
    `Node ${process.version}, ${environment.cpu}, ${layout.cores} cores; ${natsVersion ?? 'nats-server absent'}; commit ${commit.slice(0, 12)}`, '',
    `## Isolation (${o.rate} msgs/s, ${o.subjects} subjects, ${o.payload} B; fast-subscriber latency from intended send time)`, '',
    '| target | stalled subscriber | p50 | p90 | p99 | p99.9 | max | uncorrected p99 | broker RSS start -> peak | max pending bytes | valid |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...isolation.map((r) => {
      const l = r.subscriber.latencyUs
      return `| ${r.target} | ${r.stalled ? 'yes' : 'no'} | ${formatUs(l.p50)} | ${formatUs(l.p90)} | ${formatUs(l.p99)} | ${formatUs(l.p999)} | ${formatUs(l.max)} | ${formatUs(r.subscriber.uncorrectedUs.p99)} | ${(r.memory.startBytes / 2 ** 20).toFixed(0)} -> ${(r.memory.peakBytes / 2 ** 20).toFixed(0)} MiB | ${r.maxPendingBytes.toLocaleString('en-US')} | ${r.valid ? 'yes' : `no: ${r.invalidReason}`} |`
    }), '',
    `## Fan-out (1 publisher -> ${o.fanoutSubscribers} subscribers, official nats.js client)`, '',
    '| target | deliveries/s | broker CPU per delivery |', '|---|---|---|',
    ...fanout.map((f) => `| ${f.target} | ${Math.round(f.deliveredPerSec).toLocaleString('en-US')} | ${(f.brokerCpuSeconds * 1e6 / f.delivered).toFixed(2)} us |`), '',
    '## Verdict', '', '| check | value | target | result |', '|---|---|---|---|',
    ...verdicts.map((v) => `| ${v.target} | ${v.value === null ? 'n/a' : Number.isInteger(v.value) ? v.value : v.value.toFixed(3)} | ${v.limit} | ${v.pass ? 'PASS' : 'FAIL'} |`), ''
  ]
  writeFileSync(path.join(dir, 'summary.md'), lines.join('\n'))
  process.stdout.write(`\nReport: ${path.relative(ROOT, dir)}/summary.md\n`)
})
