/**
 * `npm run docs:limits`: writes the README's limits table from the option table (options.ts),
 * between its `<!-- limits:start -->` and `<!-- limits:end -->` markers. broker/options.test.ts
 * fails when the README is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { limitsMarkdown } from './options.ts'

export const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md')
const START = '<!-- limits:start (npm run docs:limits writes this table from broker/options.ts) -->'
const END = '<!-- limits:end -->'

/** The README with its limits table replaced by the current one; throws when the markers are missing. */
export function withCurrentLimits (readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`README.md has no limits table markers (${START} … ${END})`)
  return `${readme.slice(0, start)}${START}\n${limitsMarkdown()}\n${readme.slice(end)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const before = readFileSync(README, 'utf8')
  const after = withCurrentLimits(before)
  writeFileSync(README, after)
  process.stdout.write(after === before ? 'README.md limits table already current\n' : 'README.md limits table rewritten from broker/options.ts\n')
}
