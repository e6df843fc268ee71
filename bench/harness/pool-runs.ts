/**
 * Several kept suite runs of one experiment, judged as one run with all their repetitions
 * (`npm run bench:rejudge -- --pool`). On a noisy machine five repetitions may not resolve a
 * ratio that fifteen can, and three runs of five are the same experiment as one of fifteen when
 * nothing but the repetitions differs. Pure: what may be pooled, and how the repetitions stay
 * paired, is tested apart from any file (pool-runs.test.ts).
 *
 * Runs pool only when everything that shapes a measurement is the same: the machine's
 * description, Node.js and nats-server, the pinning, the workloads and every suite option but
 * the repetition count and where the report went. A maximum search of one run is paired only
 * with the other target's search of the same run, as the suite pairs them.
 */
import type { SuiteResults } from '../report/write.ts'
import type { MaxSustained } from './suite-verdicts.ts'

export interface KeptRun {
  /** Where the run's report is, as named on the command line. */
  name: string
  results: SuiteResults
}

export class PoolError extends Error {
  override name = 'PoolError'
}

/** Suite options that differ between runs of one experiment. */
const FREE_OPTIONS = new Set(['out', 'stamp', 'repeat'])
/** Environment entries that differ between runs of one experiment. */
const FREE_ENVIRONMENT = new Set(['date', 'commit', 'options'])

/**
 * The runs as one: their scenarios and maximum searches in run order, and a note naming each.
 * `codeChanges`: files of the code that runs (the broker's, the suite's) that differ between the
 * runs' commits, when the caller looked and the user pooled them anyway (empty: none differ).
 */
export function poolRuns (runs: readonly KeptRun[], codeChanges: readonly string[] = []): SuiteResults {
  assertOneExperiment(runs)
  const first = runs[0] as KeptRun
  const maxSustained: MaxSustained[] = []
  for (const run of runs) maxSustained.push(...pairedSearches(run))
  const sources = runs.map((r) => `${r.name} (commit ${String(r.results.environment.commit ?? 'unknown').slice(0, 7)}, ${String(r.results.environment.date ?? 'undated')})`)
  const note = `Pooled by npm run bench:rejudge -- --pool: the repetitions of ${runs.length} runs of one experiment, judged as one run: ${sources.join('; ')}.` +
    (codeChanges.length === 0 ? '' : ` Their commits differed in ${codeChanges.join(', ')}; they were pooled anyway (--despite-code-changes).`)
  const repeat = runs.reduce((n, r) => n + repetitionsOf(r.results), 0)
  return {
    environment: {
      ...first.results.environment,
      options: { ...optionsOf(first.results.environment), repeat },
      pooledFrom: sources
    },
    scenarios: runs.flatMap((r) => r.results.scenarios),
    maxSustained,
    http: runs.flatMap((r) => r.results.http),
    verdicts: [],
    notes: [note, ...setupNotes(runs)],
    failures: runs.flatMap((r) => r.results.failures.map((f) => `${r.name}: ${f}`))
  }
}

/** Throws, saying why, unless the runs are at least two and differ in nothing that shapes a measurement. */
export function assertOneExperiment (runs: readonly KeptRun[]): void {
  if (runs.length < 2) throw new PoolError('name at least two runs to pool')
  const pooled = runs.find((r) => r.results.environment.pooledFrom !== undefined)
  if (pooled !== undefined) throw new PoolError(`${pooled.name} is a pooled report: name the runs it pooled instead`)
  const first = runs[0] as KeptRun
  for (const run of runs.slice(1)) {
    const problem = differenceOf(first.results.environment, run.results.environment)
    if (problem !== null) throw new PoolError(`${run.name} is not the experiment ${first.name} is: ${problem}`)
  }
}

/**
 * A run's maximum searches, tickfan's and nats-server's paired as the suite pairs them (the
 * k-th of each): any a run has beyond the other target's count are left out, so that pairs
 * never cross runs. Each must say why it ended (results written before that was recorded
 * are judged alone).
 */
function pairedSearches (run: KeptRun): MaxSustained[] {
  const all = run.results.maxSustained
  const undated = all.find((m) => m.endedAt === undefined)
  if (undated !== undefined) {
    throw new PoolError(`${run.name}: its maximum searches do not record why they ended (written before the suite recorded it); judge it alone`)
  }
  const out: MaxSustained[] = []
  for (const workload of [...new Set(all.map((m) => m.workload))]) {
    const of = (target: string): MaxSustained[] => all.filter((m) => m.workload === workload && m.target === target)
    const tickfan = of('tickfan')
    const nats = of('nats-server')
    const n = Math.min(tickfan.length, nats.length)
    out.push(...tickfan.slice(0, n), ...nats.slice(0, n))
  }
  return out
}

/**
 * The notes every run has that say how it was run (the cap, the pinning): those that say what
 * happened in a run (steps not judged, runs left out) come again from the pooled verdicts.
 */
function setupNotes (runs: readonly KeptRun[]): string[] {
  const aboutRuns = (n: string): boolean => n.startsWith('Not judged for loss') || n.includes('run(s) invalid and left out') ||
    n.startsWith('Judged again ') || n.startsWith('Pooled by ')
  const shared = (n: string): boolean => runs.every((r) => r.results.notes.includes(n))
  return (runs[0] as KeptRun).results.notes.filter((n) => !aboutRuns(n) && shared(n))
}

function repetitionsOf (r: SuiteResults): number {
  const repeat = optionsOf(r.environment).repeat
  return typeof repeat === 'number' ? repeat : 1
}

function optionsOf (environment: Record<string, unknown>): Record<string, unknown> {
  const options = environment.options
  return typeof options === 'object' && options !== null ? options as Record<string, unknown> : {}
}

/** The first entry that differs between two runs' environments, said for a reader; null when none does. */
export function differenceOf (a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (FREE_ENVIRONMENT.has(key)) continue
    if (!sameValue(a[key], b[key])) return `${key} ${JSON.stringify(a[key])} against ${JSON.stringify(b[key])}`
  }
  const oa = optionsOf(a)
  const ob = optionsOf(b)
  for (const key of [...new Set([...Object.keys(oa), ...Object.keys(ob)])].sort()) {
    if (FREE_OPTIONS.has(key)) continue
    if (!sameValue(oa[key], ob[key])) return `option ${key} ${JSON.stringify(oa[key])} against ${JSON.stringify(ob[key])}`
  }
  return null
}

function sameValue (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
