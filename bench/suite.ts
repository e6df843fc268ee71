/**
 * `npm run bench`: every workload in bench/workloads/ against the tickfan broker and against
 * nats-server (Debian's package, from PATH), with the same clients, in the same run. Writes
 * reports/<date-time>/ and points reports/latest at it. `--quick` runs the same shapes shorter.
 * `--profile` runs each tickfan broker under `node --cpu-prof` and keeps, for each workload, the
 * profile of its last tickfan run in the report folder beside a flame graph.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { CoreKeeper, CoreKeeperError } from './harness/core-keeper.ts'
import { CAP_PERIOD_MS, CpuCap, CpuCapError, capUsedText } from './harness/cpu-cap.ts'
import { BACKGROUND_PRIORITY, ROOT, brokerRoot, cappedBrokerArgs, coreLayout, cpuNanoseconds, goRuntimeEnv, TICKFAN_HISTORY, type BrokerProcess } from './harness/processes.ts'
import { KeptBroker } from './harness/kept-broker.ts'
import { runScenario, startTarget, type ScenarioResult, type TargetName } from './harness/runner.ts'
import { CAP_SPENT, notSustainedBecause, searchMaxRate, stepTriedAgain } from './harness/max-search.ts'
import { invalidRunsNote, suiteVerdicts } from './harness/suite-verdicts.ts'
import { writeBrokerProfile, writeReport, type BrokerProfile, type HttpResult, type SuiteResults } from './report/write.ts'
import { capped, JUDGED_WORKLOADS, loadWorkload, quick, repetitionsOf, targetsOfRepetition, warmedAgain, WorkloadError, type Workload } from './workload.ts'

const WORKLOAD_DIR = path.join(ROOT, 'bench/workloads')
/** Halvings of the gap where a maximum-rate search ended at the broker (harness/max-search.ts), and the grain. */
const MAX_REFINEMENTS = 2
const RATE_GRAIN = 1000
const ORDER = ['steady', 'burst', 'slow-consumers', 'fairness', 'wide-fanout', 'max-throughput', 'scaling']

const CLI = {
  quick: { type: 'boolean', default: false, help: 'The same workloads, shorter (about 2 minutes on 2 cores)' },
  workloads: { type: 'list', default: [], help: 'Workload names or files to run (default: all in bench/workloads/)' },
  targets: { type: 'list', default: ['tickfan', 'nats-server'], help: 'Brokers to measure: tickfan, nats-server' },
  out: { type: 'string', default: path.join(ROOT, 'reports'), help: 'Where reports go' },
  stamp: { type: 'string', default: '', help: 'Report folder name (default: the date and time)' },
  httpSeconds: { type: 'number', default: 5, min: 0, help: 'Seconds autocannon drives each HTTP endpoint (0 skips the HTTP runs; at most 1 with --quick)' },
  profile: { type: 'boolean', default: false, help: 'Profile the tickfan broker (node --cpu-prof): for each workload, its last tickfan run, with a flame graph the report links to' },
  brokerCpu: { type: 'number', default: 0, min: 0, help: 'Cap each broker at this share of one core (a Linux cgroup CPU quota; needs root), so that on a small machine the broker, not the load generators, sets the maximum rate; 0: no cap' },
  brokerCpuPeriodMs: { type: 'number', default: CAP_PERIOD_MS, min: 1, help: 'The period of --broker-cpu\'s quota, in ms (1-1000): short, so a capped broker waits little for its next slice; Kubernetes and systemd use 100' },
  brokerCoresAwake: { type: 'boolean', default: true, help: 'With --broker-cpu: keep the broker\'s cores from idling while its quota holds it (a spinner per core at idle priority), so that a capped broker\'s next slice does not run slower for the idle before it (reports/broker/core-keeper.md); --no-broker-cores-awake leaves them to idle' },
  natsHistory: { type: 'boolean', default: false, help: 'nats-server keeps the trades too: JetStream on, with a stream in memory for each of tickfan\'s default history streams (the same subjects and limits), so both brokers store what they deliver (default: nats-server stores nothing)' },
  brokerPerStep: { type: 'boolean', default: false, help: 'Start a fresh broker for each step of a maximum-rate search, as the suite did before 2026-12-02 (default: one broker per search, each step\'s load connecting to the broker the step before left running; --profile implies it)' },
  repeat: { type: 'integer', default: 3, min: 1, max: 50, help: `Repetitions of each judged workload (${[...JUDGED_WORKLOADS].join(', ')}), interleaved, where its file asks for fewer; a timing verdict needs at least 3` }
} satisfies OptionTable

/**
 * Moves each workload's kept profile into the report folder (a broker with workers writes one per
 * thread: the busiest, the largest file, is kept).
 */
function brokerProfiles (
  dir: string,
  kept: ReadonlyMap<string, { run: string, dir: string }>,
  failures: string[]
): BrokerProfile[] {
  const out: BrokerProfile[] = []
  for (const [workload, { run, dir: from }] of kept) {
    const files = readdirSync(from).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(from, f))
    const largest = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]
    if (largest === undefined) failures.push(`${workload}: the tickfan broker wrote no CPU profile (--profile)`)
    else out.push(writeBrokerProfile(dir, workload, run, largest))
    rmSync(from, { recursive: true, force: true })
  }
  return out
}

export function loadWorkloads (names: readonly string[]): Workload[] {
  const files = names.length > 0
    ? names.map((n) => (n.endsWith('.json') ? path.resolve(n) : path.join(WORKLOAD_DIR, `${n}.json`)))
    : readdirSync(WORKLOAD_DIR).filter((f) => f.endsWith('.json')).map((f) => path.join(WORKLOAD_DIR, f))
  const loaded = files.map((f) => loadWorkload(f))
  return loaded.sort((a, b) => (ORDER.indexOf(a.name) + 1 || 99) - (ORDER.indexOf(b.name) + 1 || 99))
}

async function http (target: TargetName, progress: (t: string) => void, seconds: number): Promise<HttpResult[]> {
  const broker = await startTarget(target, 1, coreLayout().broker)
  try {
    const out: HttpResult[] = []
    for (const p of target === 'tickfan' ? ['/varz', '/lvc?subject=quote.>'] : ['/varz']) {
      progress(`${target} HTTP ${p}: autocannon ${seconds} s`)
      const r = await autocannon({ url: `http://127.0.0.1:${broker.httpPort}${p}`, connections: 10, duration: seconds })
      out.push({ target, path: p, requestsPerSec: r.requests.average, latencyP99Ms: r.latency.p99 })
    }
    return out
  } finally {
    await broker.stop()
  }
}

/**
 * Under --broker-cpu, a spinner on each of the broker's cores (core-keeper.ts), said in the
 * notes; none, with the reason, where the broker has no cores of its own or they cannot be kept.
 */
function startCoreKeeper (cores: string | undefined, notes: string[]): CoreKeeper | undefined {
  const idled = 'The broker\'s cores were left to idle under the cap'
  if (cores === undefined) {
    notes.push(`${idled}: the broker had no cores of its own here (fewer than 2, or no taskset).`)
    return undefined
  }
  try {
    const keeper = CoreKeeper.start(cores)
    notes.push(`Under the cap the broker's cores (${cores}) were kept from idling, a spinner on each at idle priority that gives way to anything else (--no-broker-cores-awake leaves them to idle): on this virtual machine a core left idle ran the broker's next slice slower, which spread a capped broker's CPU per delivery by up to a half from run to run (reports/broker/core-keeper.md).`)
    return keeper
  } catch (err) {
    if (!(err instanceof CoreKeeperError)) throw err
    notes.push(`${idled}: ${err.message}.`)
    return undefined
  }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench --', 'tickfan benchmark suite: throughput, tail latency, staleness, fairness and scaling, side by side with nats-server.', CLI)); return }
  let workloads: Workload[]
  try {
    workloads = loadWorkloads(o.workloads)
  } catch (err) {
    if (err instanceof WorkloadError) throw new UsageError(err.message)
    throw err
  }
  if (o.quick) workloads = workloads.map((w) => quick(w, 0.2))
  const natsVersion = natsServerVersion()
  const notes: string[] = []
  const failures: string[] = []
  const targets = (o.targets as TargetName[]).filter((t) => {
    if (t === 'nats-server' && natsVersion === null) { notes.push('nats-server is not on PATH: tickfan was measured alone (Debian: apt-get install -y nats-server)'); return false }
    return t === 'tickfan' || t === 'nats-server'
  })
  if (o.brokerCpu === 0 && o.brokerCpuPeriodMs !== CAP_PERIOD_MS) throw new UsageError('--broker-cpu-period-ms sets the period of --broker-cpu\'s quota: give --broker-cpu <share of a core> too')
  const layout = coreLayout()
  let brokerCap: CpuCap | undefined
  try {
    const periodUs = Math.round(o.brokerCpuPeriodMs * 1000)
    brokerCap = o.brokerCpu > 0 ? CpuCap.open(o.brokerCpu, layout.cores, undefined, periodUs) : undefined
    // However the run ends, its brokers have been stopped by then: the group goes with the process.
    if (brokerCap !== undefined) process.once('exit', () => brokerCap?.close())
  } catch (err) {
    if (err instanceof CpuCapError) throw new UsageError(err.message)
    throw err
  }
  if (brokerCap !== undefined) workloads = workloads.map((w) => capped(w, o.brokerCpu))
  const keeper = brokerCap !== undefined && o.brokerCoresAwake ? startCoreKeeper(layout.broker, notes) : undefined
  const brokerPerStep = o.brokerPerStep || o.profile
  const started = Date.now()
  const progress = (text: string): void => { process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`) }
  process.stdout.write(`tickfan bench${o.quick ? ' (quick)' : ''}: ${workloads.length} workloads x ${targets.join(', ')}; ${layout.cores} cores, broker on ${layout.broker ?? 'any'}${brokerCap === undefined ? '' : ` capped at ${brokerCap.share} of a core per ${brokerCap.periodUs / 1000} ms`}, load on ${layout.load ?? 'any'}\n`)
  notes.push(`Slow consumers are background load: they run at ${BACKGROUND_PRIORITY} CPU priority, so on cores they share with the publisher and the fast subscribers they use only the cycles those leave, and the isolation verdict measures the broker, not the scheduler.`)
  if (brokerCap !== undefined) notes.push(`Each broker ran capped at ${brokerCap.share} of one core (a cgroup CPU quota per ${brokerCap.periodUs / 1000} ms, counting all its threads), so that its own limit, not the load generators', ends a maximum rate search; CPU per delivery is still measured, throttled time is not CPU. After it, the CPU column gives the share of its cap each broker used in the measured window: near 100%, a broker spent all the cap allowed, and its CPU per delivery is the cap divided by its deliveries per second (the same for any broker at its cap and that rate), not what its work costs; compare costs uncapped (\`npm run bench:ci\`).`)
  const cappedArgs = cappedBrokerArgs(brokerRoot())
  if (brokerCap !== undefined && cappedArgs.length > 0) notes.push(`Under the cap tickfan ran with \`${cappedArgs.join(' ')}\`: its trade history's memory taken at start, so that no step measures the history filling fresh memory, a cost paid once in a broker's life (reports/broker/history-fill.md).`)
  if (o.natsHistory && targets.includes('nats-server')) notes.push(`nats-server kept the trades as tickfan does (--nats-history): JetStream on, and a stream in memory for each of tickfan's history streams with its subjects and limits (${TICKFAN_HISTORY.map((h) => `${h.name}: ${h.subjects.join(', ')}, ${h.maxBytes} B, ${h.maxAgeMs / 1000} s, ${h.maxMsgsPerSubject} per subject`).join('; ')}).`)
  if (workloads.some((w) => w.rate === 'max')) {
    notes.push(brokerPerStep
      ? `Each step of a maximum-rate search started a fresh broker (${o.profile ? '--profile' : '--broker-per-step'}), so a broker that compiles as it runs (tickfan) compiled inside each step's first seconds.`
      : 'Each maximum-rate search ran its steps on one broker, started for its first step: each step\'s load connected to the broker the step before left running, once its CPU was quiet (bench/harness/kept-broker.ts; --broker-per-step starts one per step).')
    if (brokerCap !== undefined) notes.push(`Under the cap, a search step whose load gave out while its broker used at least ${CAP_SPENT * 100}% of its cap counts as the broker's limit: the broker spent all it had on no more than the rate offered (bench/harness/max-search.ts brokerAtItsLimit). Such a step is run again, warmed, as a valid one that was not sustained is, and the search refines below it.`)
  }
  const goEnv = goRuntimeEnv()
  if (goEnv.length > 0 && targets.includes('nats-server')) notes.push(`nats-server ran with Go's runtime set from the environment: ${goEnv.join(' ')}.`)
  if (layout.cores <= 2) notes.push(`This machine has ${layout.cores} cores: the broker gets one and the load generators the other, so throughput and scaling are bounded by the machine, not only by the broker.`)

  // --profile: for each workload, the folder holding its last tickfan run's profile (earlier ones are let go).
  const lastProfiles = new Map<string, { run: string, dir: string }>()
  const keepProfile = (workload: string, run: string, dir: string): void => {
    const previous = lastProfiles.get(workload)
    if (previous !== undefined) rmSync(previous.dir, { recursive: true, force: true })
    lastProfiles.set(workload, { run, dir })
  }
  const scenarios: ScenarioResult[] = []
  const maxSustained: SuiteResults['maxSustained'] = []
  const run = async (
    target: TargetName,
    w: Workload,
    rate: number,
    workers: number,
    withoutSlow = false,
    /** A search's kept broker, to run on (none: the run starts its own). */
    kept: KeptBroker | null = null
  ): Promise<ScenarioResult | null> => {
    const profileDir = o.profile && target === 'tickfan' ? mkdtempSync(path.join(os.tmpdir(), 'tickfan-suite-profile-')) : null
    try {
      const turn = await kept?.get()
      if (turn !== undefined && !turn.quiet) progress(`${target} ${w.name} ${rate.toLocaleString('en-US')}/s: the broker was still busy ${turn.waitedMs / 1000} s after the last step; this one runs on it all the same`)
      const settleMs = o.quick ? (w.slowFraction > 0 && !withoutSlow ? 2000 : 700) : undefined
      const tickfanNodeFlags = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
      const natsHistory = o.natsHistory
      const options = {
        withoutSlow, onProgress: progress, settleMs, tickfanNodeFlags, brokerCap, natsHistory,
        broker: turn?.broker, brokerFresh: turn?.fresh
      }
      const r = await runScenario(target, w, rate, workers, options)
      const tag = withoutSlow ? { ...r, workload: `${w.name} (baseline, no slow)` } : r
      scenarios.push(tag)
      const runName = `${tag.workload} at ${rate.toLocaleString('en-US')} msgs/s, ${workers} worker${workers === 1 ? '' : 's'}`
      if (profileDir !== null) keepProfile(w.name, runName, profileDir)
      const took = r.broker.historyTaken == null ? '' : `, history took ${r.broker.historyTaken.toLocaleString('en-US')}`
      const backlog = r.fast.windowStartLatencyUs == null ? '' : `, first in the window ${(r.fast.windowStartLatencyUs / 1000).toFixed(2)} ms late`
      const startedForIt = turn?.fresh === true ? ', on a broker started for it' : ''
      const cap = r.broker.capUsed == null ? '' : `, ${capUsedText(r.broker.capUsed)} used`
      progress(`${target} ${tag.workload} ${rate.toLocaleString('en-US')}/s${startedForIt}: delivered ${Math.round(r.deliveredRate).toLocaleString('en-US')}/s, p99 ${(r.fast.latencyUs.p99 / 1000).toFixed(2)} ms${backlog}${took}${cap}${r.valid ? '' : `, INVALID: ${r.invalidReason}`}`)
      return tag
    } catch (err) {
      if (profileDir !== null) rmSync(profileDir, { recursive: true, force: true })
      const msg = `${target} ${w.name} at ${rate}/s failed: ${(err as Error).message}`
      failures.push(msg)
      progress(msg)
      return null
    }
  }
  /**
   * One step of a search, on the search's kept broker (none under --broker-per-step: the step
   * starts its own). Where it was a valid run and not sustained, the step once more with a longer,
   * ramped warm-up (warmedAgain), and that run is the one the search judges; the first stays in
   * the report, named for what happened to it.
   */
  const searchStep = async (
    target: TargetName,
    w: Workload,
    rate: number,
    workers: number,
    kept: KeptBroker | null
  ): Promise<ScenarioResult | null> => {
    const runThese = async (these: Workload): Promise<ScenarioResult | null> =>
      await run(target, these, rate, workers, false, kept)
    const onAgain = (first: ScenarioResult, again: Workload): void => {
      const why = notSustainedBecause(first, w.subscribers)
      first.workload = `${first.workload} (not sustained: ${why}; tried again warmed)`
      progress(`${target} ${w.name} ${rate.toLocaleString('en-US')}/s: not sustained (${why}), so once more with ${again.warmupSeconds} s of warm-up, the rate ramped over its first ${again.warmupRampSeconds} s`)
    }
    return await stepTriedAgain(w, runThese, { subscribers: w.subscribers, warmer: warmedAgain, onAgain })
  }
  const findMax = async (target: TargetName, w: Workload, workers: number): Promise<void> => {
    const start = async (): Promise<BrokerProcess> =>
      await startTarget(target, workers, layout.broker, [], brokerCap, o.natsHistory)
    const clock = { cpuNanoseconds, sleep: async (ms: number) => { await sleep(ms) } }
    const kept = brokerPerStep ? null : new KeptBroker(start, clock)
    const step = async (rate: number): Promise<ScenarioResult | null> =>
      await searchStep(target, w, rate, workers, kept)
    try {
      const { best, endedAt } = await searchMaxRate(w.rateSteps, step,
        { subscribers: w.subscribers, refinements: o.quick ? 0 : MAX_REFINEMENTS, grain: RATE_GRAIN })
      maxSustained.push({
        target,
        workload: w.name,
        workers,
        rate: best?.offeredRate ?? null,
        deliveredRate: best?.deliveredRate ?? null,
        endedAt
      })
    } finally {
      await kept?.stop()
    }
  }

  for (const w of workloads) {
    const repetitions = repetitionsOf(w, o.repeat, o.quick)
    process.stdout.write(`${w.name}: ${w.description}${repetitions > 1 ? ` (${repetitions} repetitions${w.comparisonRepetitions > 0 && w.comparisonRepetitions < repetitions ? `, the other brokers in the first ${w.comparisonRepetitions}` : ''})` : ''}\n`)
    for (let rep = 0; rep < repetitions; rep++) {
      for (const target of targetsOfRepetition(w, rep, targets)) {
        if (w.name === 'scaling') {
          for (const workers of w.workers) {
            await findMax(target, w, workers)
          }
        } else if (w.rate === 'max') {
          await findMax(target, w, 1)
        } else {
          // nats-server has no workers: it runs once, with every core (GOMAXPROCS unset).
          for (const workers of target === 'tickfan' ? w.workers : [1]) {
            await run(target, w, w.rate, workers)
            if (w.slowFraction > 0) await run(target, w, w.rate, workers, true)
          }
        }
      }
    }
  }
  keeper?.stop()
  if (keeper !== undefined && keeper.endedEarly.length > 0) notes.push(`A spinner that kept a broker core from idling ended before the run did, and that core idled from then on: ${keeper.endedEarly.join('; ')}.`)
  const httpResults: HttpResult[] = []
  const httpSeconds = o.quick ? Math.min(o.httpSeconds, 1) : o.httpSeconds
  for (const target of httpSeconds > 0 ? targets : []) {
    try { httpResults.push(...await http(target, progress, httpSeconds)) } catch (err) { failures.push(`${target} HTTP: ${(err as Error).message}`) }
  }

  const judged = suiteVerdicts(scenarios, maxSustained, { quick: o.quick })
  const verdicts = judged.verdicts
  notes.push(...judged.notes)
  const invalidNote = invalidRunsNote(scenarios)
  if (invalidNote !== null) notes.push(invalidNote)
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch { /* not a checkout */ }
  const results: SuiteResults = {
    environment: { date: new Date().toISOString(), commit, node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: layout.cores, pinning: { ...layout, slowConsumers: BACKGROUND_PRIORITY }, natsServer: natsVersion, quick: o.quick, options: o, workloads },
    scenarios,
    maxSustained,
    http: httpResults,
    verdicts,
    notes,
    failures
  }
  const stamp = o.stamp !== '' ? o.stamp : new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
  if (o.profile) results.profiles = brokerProfiles(path.join(o.out, stamp), lastProfiles, failures)
  const dir = writeReport(o.out, results, stamp)
  process.stdout.write('\nVerdict\n')
  for (const v of verdicts) process.stdout.write(`  ${v.outcome.padEnd(12)}  ${v.check}: ${v.value === null ? 'n/a' : Number.isInteger(v.value) ? v.value : v.value.toFixed(3)} (target ${v.target})${v.note === undefined ? '' : `; ${v.note}`}\n`)
  for (const f of failures) process.stdout.write(`  failed: ${f}\n`)
  process.stdout.write(`\nReport: ${path.relative(process.cwd(), dir)}/report.html (summary.md, results.json); reports/latest points to it. ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  if (failures.length > 0) {
    process.stdout.write(`${failures.length} run(s) could not be measured (listed above and in the report); the rest were.\n`)
    process.exitCode = 1
  }
})
