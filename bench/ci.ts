/**
 * `npm run bench:ci`: the CI performance regression check, a few minutes on 2 cores.
 *
 * 1. Facts of the steady workload (quick): no trade loss, right final values, no order
 *    violations, socket writes and bytes per delivery within bench/ci-budget.json.
 * 2. The regression gate: this working tree (the candidate) against a reference build of the
 *    commit in bench/ci-reference.json (or --reference), both running at once on the broker's
 *    core and measured in turn, A B B A ..., by the lockstep load (bench/load/lockstep.ts): broker
 *    CPU per delivery (its whole process tree, to the nanosecond) on a plain and on a last-value
 *    subject, and JS heap bytes allocated per message (bench/micro/publish-path.ts). A measure
 *    fails when the ratio of medians candidate / reference exceeds 1 + tolerance with its whole
 *    bootstrap interval above 1 (bench/harness/regression.ts).
 * 3. Isolation: the fast subscriber's p99 with a stalled subscriber / without (a behaviour, not
 *    a speed: a uniform slowdown cancels out of it, which is why 2 exists).
 * nats-server is measured by the same lockstep load as information, never as a gate.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { NODE_FLAGS } from '../broker/process-settings.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { isolationRun } from './harness/broker-runs.ts'
import { LockstepLoad, type CpuPerDelivery } from './harness/lockstep.ts'
import { coreLayout, ROOT, startNatsServerProcess, startTickfanProcess, type BrokerProcess } from './harness/processes.ts'
import { committedReference, prepareReference, ReferenceBuildError } from './harness/reference-build.ts'
import { formatRatio, judgeRegression, type RegressionVerdict } from './harness/regression.ts'
import { runScenario } from './harness/runner.ts'
import { median } from './harness/stats.ts'
import { machineLoad } from './harness/machine.ts'
import { lockstepPaths, ROUND, type LockstepPath } from './load/lockstep.ts'
import type { PublishPathResult } from './micro/publish-path.ts'
import { loadWorkload, quick } from './workload.ts'

const CLI = {
  reference: { type: 'string', default: '', help: 'Commit to compare against [default: the one in bench/ci-reference.json]' },
  candidate: { type: 'string', default: '', help: 'Checkout to measure as the candidate [default: this working tree]' },
  repeat: { type: 'integer', default: 10, min: 1, max: 100, help: 'Alternations A B (then B A ...) per measure; at least 2' },
  messages: { type: 'integer', default: 50_000, min: 1000, help: 'Messages per CPU sample (in lockstep rounds of --round)' },
  round: { type: 'integer', default: ROUND, min: 1, max: 1000, help: 'Messages per lockstep round: one socket write, delivered to every subscriber before the next; fewer make each wake-up of the broker share its fixed work among fewer messages, as an open-loop load at a moderate rate does' },
  subscribers: { type: 'integer', default: 10, min: 1, help: 'Subscribers in the lockstep fan-out' },
  candidateBrokerArgs: { type: 'list', default: [], help: 'Broker options for the candidate, comma-separated, each as --name=value (--candidate-broker-args=--history-preallocate): with --reference HEAD, an option measured against the same build without it, interleaved; needs --no-allocations (the allocation samples run no broker)' },
  referenceBrokerArgs: { type: 'list', default: [], help: 'Broker options for the reference, as --candidate-broker-args' },
  paths: { type: 'list', default: ['plain', 'last-value'], help: 'Lockstep paths to measure: plain, last-value, trade (events the trade history keeps)' },
  tolerance: { type: 'number', default: 0.05, min: 0, max: 1, help: 'Slowdown the gate lets through (0.05 = 5%)' },
  gateOnly: { type: 'boolean', default: false, help: 'Only the regression gate (skip the steady-workload facts and isolation)' },
  allocations: { type: 'boolean', default: true, help: 'Gate heap bytes per message too (--no-allocations: CPU only)' },
  out: { type: 'string', default: 'reports/ci/latest.json', help: 'Where the report goes (relative to the repository)' }
} satisfies OptionTable

interface Budget { socketWritesPerDelivery: number, bytesPerDelivery: number, isolationRatioMax: number }

interface Row { gate: string, value: string, limit: string, verdict: 'PASS' | 'FAIL' | 'info' }

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:ci --', 'Performance regression gate: this tree against a reference commit, interleaved.', CLI)); return }
  if (o.repeat < 2) throw new UsageError(`--repeat: ${o.repeat} alternations cannot give an interval; use at least 2`)
  lockstepPaths(o.paths)
  brokerArgs('--candidate-broker-args', o.candidateBrokerArgs, o.allocations)
  brokerArgs('--reference-broker-args', o.referenceBrokerArgs, o.allocations)
  if (natsServerVersion() === null) throw new UsageError('nats-server is not on PATH: bench:ci measures it beside tickfan (apt-get install -y nats-server)')
  const candidateRoot = o.candidate === '' ? ROOT : path.resolve(o.candidate)
  const budget = JSON.parse(readFileSync(path.join(ROOT, 'bench/ci-budget.json'), 'utf8')) as Budget
  const started = Date.now()
  const step = (text: string): void => { process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}\n`) }
  const rows: Row[] = []
  const add = (gate: string, value: number | string, limit: string, verdict: Row['verdict']): void => {
    rows.push({ gate, value: typeof value === 'string' ? value : Number.isInteger(value) ? String(value) : value.toFixed(3), limit, verdict })
  }
  const judged = (gate: string, value: number, limit: string, pass: boolean): void => add(gate, value, limit, pass ? 'PASS' : 'FAIL')
  process.stdout.write('tickfan bench:ci\n')
  const loadBefore = machineLoad()

  // 1. Deterministic facts on the steady workload.
  if (!o.gateOnly) {
    const steady = quick(loadWorkload(path.join(ROOT, 'bench/workloads/steady.json')), 0.4)
    step(`steady workload, ${steady.rate} msgs/s, ${steady.subscribers} subscribers, ${steady.durationSeconds} s`)
    // A run disturbed by other work on the machine is run once more before it counts against the tree.
    let s = await runScenario('tickfan', steady, steady.rate as number, 1)
    if (!s.valid) {
      step(`steady workload invalid (${s.invalidReason ?? 'unknown'}); once more`)
      s = await runScenario('tickfan', steady, steady.rate as number, 1)
    }
    add('load generator healthy, machine quiet (run valid)', s.valid ? 'yes' : `no: ${s.invalidReason ?? 'unknown'}`, 'yes', s.valid ? 'PASS' : 'FAIL')
    judged('trade loss', s.tradeLoss, '= 0', s.tradeLoss === 0)
    judged('wrong final values', s.wrongFinalValues, '= 0', s.wrongFinalValues === 0)
    judged('order violations', s.orderViolations, '= 0', s.orderViolations === 0)
    const writes = s.broker.socketWritesPerDelivery ?? Infinity
    judged('socket writes per delivery', writes, `<= ${budget.socketWritesPerDelivery}`, writes <= budget.socketWritesPerDelivery)
    const bytes = s.broker.bytesPerDelivery ?? Infinity
    judged('bytes per delivery', bytes, `<= ${budget.bytesPerDelivery}`, bytes <= budget.bytesPerDelivery)
  }

  // 2. The regression gate, candidate against reference.
  const verdicts: Record<string, RegressionVerdict> = {}
  let reference: { commit: string, root: string } | null = null
  try {
    reference = prepareReference(o.reference === '' ? committedReference() : o.reference, step)
  } catch (err) {
    if (!(err instanceof ReferenceBuildError)) throw err
    step(`the reference build failed: ${err.message}`)
    add('reference build', err.message, 'builds', 'FAIL')
  }
  const samples: Record<string, { candidate: number[], reference: number[], natsServer: number[] }> = {}
  if (reference !== null) {
    const withArgs = (args: string[]): string => args.length === 0 ? '' : ` with ${args.join(' ')}`
    step(`regression gate: ${path.relative(process.cwd(), candidateRoot) || '.'} (candidate${withArgs(o.candidateBrokerArgs)}) against ${reference.commit.slice(0, 10)} (reference${withArgs(o.referenceBrokerArgs)}), ${o.repeat} alternations, lockstep rounds of ${o.round}`)
    const cpu = await cpuPerDeliverySamples(candidateRoot, reference.root, o, step)
    Object.assign(samples, cpu.samples)
    add('lockstep samples complete (no lost message)', cpu.incomplete === 0 ? 'yes' : `${cpu.incomplete} incomplete`, 'all', cpu.incomplete === 0 ? 'PASS' : 'FAIL')
    add('load generator busy, most of one core', `${(cpu.generatorBusy * 100).toFixed(0)}%`, '< 90%', cpu.generatorBusy < 0.9 ? 'PASS' : 'FAIL')
    if (o.allocations) Object.assign(
      samples,
      await allocationSamples(candidateRoot, reference.root, Math.max(3, Math.ceil(o.repeat / 2)), step)
    )
    for (const [measure, s] of Object.entries(samples)) {
      const v = judgeRegression(s.candidate, s.reference, { tolerance: o.tolerance })
      verdicts[measure] = v
      add(`${measure}: candidate / reference`, formatRatio(v), `<= ${1 + o.tolerance} or not shown`, v.verdict === 'regression' ? 'FAIL' : 'PASS')
    }
    for (const [measure, s] of Object.entries(samples)) {
      if (s.natsServer.length === 0) continue
      add(`${measure}: candidate / nats-server`, median(s.candidate) / median(s.natsServer), 'none', 'info')
    }
  }

  // 3. Isolation.
  if (!o.gateOnly) {
    const iso = { rate: 20_000, subjects: 100, payload: 128, seconds: 3, warmup: 1 }
    const alone = await isolationRun('tickfan', false, iso)
    const stalled = await isolationRun('tickfan', true, iso)
    const ratio = stalled.subscriber.latencyUs.p99 / Math.max(1, alone.subscriber.latencyUs.p99)
    step(`isolation: fast p99 ${(alone.subscriber.latencyUs.p99 / 1000).toFixed(2)} ms alone, ${(stalled.subscriber.latencyUs.p99 / 1000).toFixed(2)} ms with a stalled subscriber`)
    judged('fast p99 with a stalled subscriber / without', ratio, `<= ${budget.isolationRatioMax}`, ratio <= budget.isolationRatioMax)
  }

  const loadAfter = machineLoad()
  const width = Math.max(...rows.map((r) => r.gate.length))
  const valueWidth = Math.max(10, ...rows.map((r) => r.value.length))
  process.stdout.write(`\n${'gate'.padEnd(width)}  ${'value'.padStart(valueWidth)}  ${'limit'.padEnd(24)}  verdict\n`)
  for (const r of rows) process.stdout.write(`${r.gate.padEnd(width)}  ${r.value.padStart(valueWidth)}  ${r.limit.padEnd(24)}  ${r.verdict}\n`)
  process.stdout.write(`\nmachine: load average ${loadBefore.loadAverage1m.toFixed(2)} -> ${loadAfter.loadAverage1m.toFixed(2)}, steal ${(machineLoad.steal(loadBefore, loadAfter) * 100).toFixed(1)}% of CPU time\n`)
  const failed = rows.filter((r) => r.verdict === 'FAIL').length
  writeReport({
    reference: reference?.commit ?? null,
    options: o,
    rows,
    verdicts,
    samples,
    machine: { before: loadBefore, after: loadAfter }
  }, path.resolve(ROOT, o.out))
  process.stdout.write(`bench:ci ${failed === 0 ? 'passed' : `FAILED (${failed} gate${failed === 1 ? '' : 's'})`} in ${((Date.now() - started) / 1000).toFixed(0)} s (report: ${o.out})\n`)
  if (failed > 0) process.exitCode = 1
})

/** Checks broker options given to one side of the gate: each an option, and CPU samples only. */
function brokerArgs (flag: string, args: readonly string[], allocations: boolean): void {
  const bad = args.find((a) => !a.startsWith('--'))
  if (bad !== undefined) throw new UsageError(`${flag}: ${JSON.stringify(bad)} is not a broker option; give each as --name=value, comma-separated`)
  if (args.length > 0 && allocations) throw new UsageError(`${flag} applies to the brokers' CPU samples; the allocation samples run no broker: add --no-allocations`)
}

/**
 * Broker CPU per delivery on each path, candidate and reference in turn (A B, then B A, ...),
 * nats-server once per alternation for information. All brokers run at once, idle but for the
 * one being measured; three discarded samples each first, so the JIT has settled.
 */
async function cpuPerDeliverySamples (
  candidateRoot: string,
  referenceRoot: string,
  o: {
    repeat: number, messages: number, subscribers: number, paths: readonly string[], round: number,
    candidateBrokerArgs: string[], referenceBrokerArgs: string[]
  },
  step: (t: string) => void
): Promise<{
  samples: Record<string, {
    candidate: number[],
    reference: number[],
    natsServer: number[]
  }>, incomplete: number, generatorBusy: number
}> {
  const layout = coreLayout()
  const brokers: Record<'candidate' | 'reference' | 'natsServer', BrokerProcess> = {
    candidate: await startTickfanProcess(layout.broker, o.candidateBrokerArgs, 1, candidateRoot),
    reference: await startTickfanProcess(layout.broker, o.referenceBrokerArgs, 1, referenceRoot),
    natsServer: await startNatsServerProcess(layout.broker)
  }
  const load = new LockstepLoad(layout.load)
  const paths = lockstepPaths(o.paths)
  const samples: Record<string, { candidate: number[], reference: number[], natsServer: number[] }> = {}
  let incomplete = 0
  let generatorBusy = 0
  try {
    for (const [name, broker] of Object.entries(brokers)) {
      for (const p of paths) await load.open(`${name}/${p}`, { url: broker.natsUrl, path: p, subscribers: o.subscribers, subjects: 100, payloadBytes: 128, round: o.round })
    }
    const take = async (name: keyof typeof brokers, p: LockstepPath): Promise<CpuPerDelivery> => {
      const m = await load.measure(`${name}/${p}`, brokers[name].pid, o.messages)
      if (m.stalls > 0 || m.delivered !== m.expected) incomplete++
      generatorBusy = Math.max(generatorBusy, m.generatorBusy)
      return m
    }
    for (let i = 0; i < 3; i++) {
      for (const name of Object.keys(brokers) as Array<keyof typeof brokers>) for (const p of paths) await take(name, p)
    }
    for (const p of paths) samples[`broker CPU per delivery, ${p}`] = { candidate: [], reference: [], natsServer: [] }
    for (let i = 0; i < o.repeat; i++) {
      const order: Array<'candidate' | 'reference'> = i % 2 === 0 ? ['candidate', 'reference'] : ['reference', 'candidate']
      const shown: string[] = []
      for (const p of paths) {
        const s = samples[`broker CPU per delivery, ${p}`] as { candidate: number[], reference: number[], natsServer: number[] }
        for (const name of order) s[name].push((await take(name, p)).brokerNsPerDelivery)
        s.natsServer.push((await take('natsServer', p)).brokerNsPerDelivery)
        shown.push(`${p} ${s.candidate.at(-1)?.toFixed(0)} / ${s.reference.at(-1)?.toFixed(0)} / ${s.natsServer.at(-1)?.toFixed(0)} ns`)
      }
      step(`alternation ${i + 1}/${o.repeat}: CPU per delivery candidate / reference / nats-server: ${shown.join(', ')}`)
    }
  } finally {
    await load.stop()
    for (const b of Object.values(brokers)) await b.stop()
  }
  return { samples, incomplete, generatorBusy }
}

/**
 * JS heap bytes allocated per message on the publish path (10 subscribers), each build in its own process,
 * interleaved.
 */
async function allocationSamples (
  candidateRoot: string,
  referenceRoot: string,
  repeat: number,
  step: (t: string) => void
): Promise<Record<string, { candidate: number[], reference: number[], natsServer: number[] }>> {
  const out: Record<string, { candidate: number[], reference: number[], natsServer: number[] }> = {}
  for (const subject of ['plain', 'quote']) {
    const s = { candidate: [] as number[], reference: [] as number[], natsServer: [] as number[] }
    out[`heap bytes per message, ${subject === 'quote' ? 'last-value' : 'plain'}`] = s
    for (let i = 0; i < repeat; i++) {
      for (const name of i % 2 === 0 ? ['candidate', 'reference'] as const : ['reference', 'candidate'] as const) {
        // With the broker's node flags, as its header asks: the path then collects as a broker does.
        const run = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', path.join(ROOT, 'bench/micro/publish-path.ts'), '--json', '--subject', subject, '--messages', '100000',
          '--root', name === 'candidate' ? candidateRoot : referenceRoot], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
        if (run.status !== 0) {
          // The error's own line, not only the stack's last frames.
          const lines = run.stderr.trim().split('\n')
          const why = lines.find((line) => /Error/.test(line)) ?? lines.slice(-2).join(' ')
          throw new ReferenceBuildError(`the publish-path micro benchmark (--subject ${subject}) failed on the ${name}: ${why}`)
        }
        s[name].push((JSON.parse(run.stdout) as PublishPathResult).heapBytesPerMessage)
      }
    }
    step(`heap bytes per message, ${subject}: candidate ${s.candidate.map((b) => b.toFixed(0)).join(' ')}; reference ${s.reference.map((b) => b.toFixed(0)).join(' ')}`)
  }
  return out
}

function writeReport (report: unknown, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), host: { cores: os.availableParallelism(), node: process.version }, ...report as object }, null, 2)}\n`)
}
