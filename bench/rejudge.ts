/**
 * `npm run bench:rejudge -- reports/<run>`: judges a kept suite run again with the current
 * verdict rules (bench/harness/suite-verdicts.ts, a pure function of the measurements) and
 * rewrites its results.json, summary.md and report.html. The measurements are not touched; the
 * report says when and by which rules it was judged again.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { runMain, UsageError } from '../lib/cli-options.ts'
import { suiteVerdicts } from './harness/suite-verdicts.ts'
import { writeReport, type SuiteResults } from './report/write.ts'

runMain(async () => {
  const dirs = process.argv.slice(2)
  if (dirs.length === 0) throw new UsageError('name the report folders to judge again, e.g. npm run bench:rejudge -- reports/baseline')
  for (const dir of dirs) {
    const file = path.join(dir, 'results.json')
    if (!existsSync(file)) throw new UsageError(`${file}: no such report`)
    const r = JSON.parse(readFileSync(file, 'utf8')) as SuiteResults
    const judged = suiteVerdicts(r.scenarios, r.maxSustained, { quick: r.environment.quick === true })
    const note = `Judged again on ${new Date().toISOString()} by npm run bench:rejudge with the verdict rules of this checkout; the measurements are those of the run.`
    const notes = [...r.notes.filter((n) => !n.startsWith('Judged again on ')), note]
    writeReport(
      path.dirname(path.resolve(dir)),
      { ...r, verdicts: judged.verdicts, notes },
      path.basename(path.resolve(dir)),
      { pointLatest: false }
    )
    process.stdout.write(`${dir}:\n${judged.verdicts.map((v) => `  ${v.outcome.padEnd(12)}  ${v.check}: ${v.value === null ? 'n/a' : Number.isInteger(v.value) ? v.value : v.value.toFixed(3)} (target ${v.target})${v.note === undefined ? '' : `; ${v.note}`}`).join('\n')}\n`)
  }
})
