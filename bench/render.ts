/**
 * `npm run bench:render -- reports/<run>`: re-renders summary.md and report.html from a run's
 * results.json (which carries the encoded histograms), e.g. after the report format changed.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runMain, UsageError } from '../lib/cli-options.ts'
import { reportHtml, summaryMarkdown, type SuiteResults } from './report/write.ts'

runMain(async () => {
  const dir = process.argv[2]
  if (dir === undefined || dir === '--help') throw new UsageError('usage: npm run bench:render -- reports/<run>')
  const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as SuiteResults
  writeFileSync(path.join(dir, 'summary.md'), summaryMarkdown(results))
  writeFileSync(path.join(dir, 'report.html'), reportHtml(results))
  process.stdout.write(`re-rendered ${dir}/summary.md and report.html\n`)
})
