/**
 * `npm run bench:rejudge -- reports/<run>`: judges a kept suite run again with the current
 * verdict rules (bench/harness/suite-verdicts.ts, a pure function of the measurements) and
 * rewrites its results.json, summary.md and report.html. The measurements are not touched; the
 * report says by which rules (the last commit to change them) it was judged again.
 *
 * `npm run bench:rejudge -- --pool <new report folder> <run> <run>...`: the runs' repetitions
 * judged as one run (bench/harness/pool-runs.ts), written as a new report; the runs are not
 * touched. It refuses runs that differ in anything that shapes a measurement, and runs whose
 * commits differ in the code that runs (broker/, lib/, bench/, the lock file) unless given
 * --despite-code-changes, which the report then names.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { runMain, UsageError } from '../lib/cli-options.ts'
import { assertOneExperiment, poolRuns, PoolError, type KeptRun } from './harness/pool-runs.ts'
import { invalidRunsNote, suiteVerdicts } from './harness/suite-verdicts.ts'
import type { Verdict } from './harness/verdict.ts'
import { writeReport, type SuiteResults } from './report/write.ts'
import { ROOT } from './harness/processes.ts'

const USAGE = 'name the report folders to judge again, e.g. npm run bench:rejudge -- reports/baseline, ' +
  'or pool runs: npm run bench:rejudge -- --pool reports/<new folder> reports/<run> reports/<run>...'
/** What runs in a measurement: runs of commits that differ here are not one experiment. */
const CODE_PATHS = ['broker', 'lib', 'bench', 'package-lock.json']
/** The verdict rules: suite-verdicts.ts and what it judges with. */
const RULE_FILES = ['suite-verdicts.ts', 'verdict.ts', 'max-search.ts', 'metrics.ts', 'stats.ts'].map((f) => `bench/harness/${f}`)

runMain(async () => {
  const args = process.argv.slice(2)
  if (args.length === 0) throw new UsageError(USAGE)
  if (args.includes('--help')) {
    process.stdout.write(`npm run bench:rejudge -- <run>...: judge kept runs again with this checkout's verdict rules\n${USAGE}\n` +
      '  --despite-code-changes  pool runs whose commits differ in the code that runs (the report names the files)\n')
    return
  }
  if (args[0] === '--pool') return pool(args.slice(1))
  const note = `Judged again by npm run bench:rejudge with the verdict rules of ${rulesVersion()}; the measurements are those of the run.`
  for (const dir of args) {
    const r = readRun(dir)
    const judged = suiteVerdicts(r.scenarios, r.maxSustained, { quick: r.environment.quick === true })
    const notes = [...r.notes.filter((n) => !n.startsWith('Judged again ')), note]
    writeReport(
      path.dirname(path.resolve(dir)),
      { ...r, verdicts: judged.verdicts, notes },
      path.basename(path.resolve(dir)),
      { pointLatest: false }
    )
    process.stdout.write(`${dir}:\n${describe(judged.verdicts)}\n`)
  }
})

function pool (args: string[]): void {
  const despite = args.includes('--despite-code-changes')
  const [out, ...dirs] = args.filter((a) => a !== '--despite-code-changes')
  if (out === undefined || dirs.length < 2) throw new UsageError(`--pool takes a new report folder, then at least two runs: ${USAGE}`)
  if (existsSync(out)) throw new UsageError(`${out}: already exists; --pool writes a new report folder`)
  const runs: KeptRun[] = dirs.map((dir) => ({ name: dir, results: readRun(dir) }))
  const pooled = asUsageError(() => {
    assertOneExperiment(runs)
    const changes = codeChanges(runs.map((r) => String(r.results.environment.commit ?? '')))
    if (changes.length > 0 && !despite) {
      throw new UsageError(`the runs' commits differ in ${changes.join(', ')}: not one experiment. ` +
        'If those changes cannot alter a measurement, say so with --despite-code-changes; the report names them.')
    }
    return poolRuns(runs, changes)
  })
  const judged = suiteVerdicts(pooled.scenarios, pooled.maxSustained, { quick: pooled.environment.quick === true })
  const invalidNote = invalidRunsNote(pooled.scenarios)
  const notes = [...pooled.notes, ...judged.notes, ...(invalidNote === null ? [] : [invalidNote])]
  writeReport(path.dirname(path.resolve(out)), { ...pooled, verdicts: judged.verdicts, notes },
    path.basename(path.resolve(out)), { pointLatest: false })
  process.stdout.write(`${out}, ${runs.length} runs pooled:\n${describe(judged.verdicts)}\n`)
}

/** What `f` returns; a PoolError it throws becomes a UsageError (exit 2, no stack). */
function asUsageError<T> (f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (err instanceof PoolError) throw new UsageError(err.message)
    throw err
  }
}

function readRun (dir: string): SuiteResults {
  const file = path.join(dir, 'results.json')
  if (!existsSync(file)) throw new UsageError(`${file}: no such report`)
  let r: Partial<SuiteResults>
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Partial<SuiteResults>
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`)
  }
  if (typeof r.environment !== 'object' || !Array.isArray(r.scenarios) || !Array.isArray(r.maxSustained)) {
    throw new UsageError(`${file}: not a suite report (no environment, scenarios and maxSustained)`)
  }
  return r as SuiteResults
}

/**
 * Which verdict rules judged: the last commit that changed them, not the time, so that judging a
 * kept run again with the same rules writes the same file (a kept run in the repository stays
 * unchanged).
 */
function rulesVersion (): string {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
    const commit = git(['log', '-1', '--format=%h', '--', ...RULE_FILES])
    const edited = git(['status', '--porcelain', '--', ...RULE_FILES]) !== ''
    return `commit ${commit} (the last to change ${RULE_FILES.join(', ')})${edited ? ', with uncommitted changes to them' : ''}`
  } catch {
    return 'this checkout (not a git repository)'
  }
}

/** Files of the code that runs that differ between the first commit and each other one (git, in this checkout). */
function codeChanges (commits: string[]): string[] {
  const first = commits[0] as string
  const changed = new Set<string>()
  for (const commit of commits.slice(1)) {
    if (commit === first) continue
    let names: string
    try {
      names = execFileSync('git', ['diff', '--name-only', first, commit, '--', ...CODE_PATHS], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    } catch {
      throw new UsageError(`cannot compare commits ${first.slice(0, 7)} and ${commit.slice(0, 7)} in this checkout (git diff failed): ` +
        'fetch them, or judge the runs one by one')
    }
    for (const name of names.split('\n')) if (name !== '') changed.add(name)
  }
  return [...changed].sort()
}

function describe (verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `  ${v.outcome.padEnd(12)}  ${v.check}: ${v.value === null ? 'n/a' : Number.isInteger(v.value) ? v.value : v.value.toFixed(3)} (target ${v.target})${v.note === undefined ? '' : `; ${v.note}`}`).join('\n')
}
