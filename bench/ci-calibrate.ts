/**
 * `npm run bench:ci-calibrate`: checks the regression gate against known answers. It plants
 * busy work in a copy of this tree, in the delivery path (Client.deliver), sized to add 5%,
 * 10%, 20% and 40% to the broker's CPU per delivery, and 0% (an unchanged copy: what the gate
 * flags there is a flap), runs the gate on each copy --runs times against the same reference,
 * and reports how often each was caught. Writes reports/ci-calibration/latest.json.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { ROOT } from './harness/processes.ts'
import { median } from './harness/stats.ts'

const CLI = {
  levels: { type: 'list', default: ['0', '5', '10', '20', '40'], help: 'Planted slowdowns, in % of broker CPU per delivery' },
  runs: { type: 'integer', default: 10, min: 1, help: 'Gate runs per level' },
  baseNs: { type: 'integer', default: 0, min: 0, help: 'Broker CPU per delivery to size the busy work from, ns [default: measured by a first gate run]' },
  reference: { type: 'string', default: '', help: 'Reference commit [default: bench/ci-reference.json]' }
} satisfies OptionTable

/** Iterations of the planted loop per nanosecond, measured here with the same loop. */
function loopsPerNs (): number {
  let sink = 0
  const n = 50_000_000
  for (let warm = 0; warm < 3; warm++) for (let i = 0; i < 1_000_000; i++) sink = (sink * 31 + i) | 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) sink = (sink * 31 + i) | 0
  const ns = Number(process.hrtime.bigint() - t0)
  if (sink === 42) process.stdout.write('') // keep the loop
  return n / ns
}

/** A copy of this tree (tracked and untracked, not ignored files) with `loops` of busy work per delivery. */
function plantedTree (loops: number): string {
  const dir = path.join(os.tmpdir(), `tickfan-planted-${loops}-${process.pid}`)
  rmSync(dir, { recursive: true, force: true })
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n').filter((f) => f !== '')
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    try { cpSync(path.join(ROOT, f), path.join(dir, f)) } catch { /* deleted in the working tree */ }
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  if (loops > 0) {
    const file = path.join(dir, 'broker/client.ts')
    const anchor = '  deliver (sub: Subscription, msg: RoutedMessage): boolean {\n'
    const source = readFileSync(file, 'utf8')
    if (!source.includes(anchor)) throw new Error('broker/client.ts: Client.deliver not found to plant busy work in')
    writeFileSync(file, source.replace(anchor, `${anchor}    for (let i = 0; i < ${loops}; i++) plantedSink = (plantedSink * 31 + i) | 0\n`) +
      '\n// Planted by bench/ci-calibrate.ts.\nexport let plantedSink = 0\n')
  }
  return dir
}

function gate (candidate: string, reference: string): { failed: boolean, summary: string } {
  const args = ['--import', 'tsx', path.join(ROOT, 'bench/ci.ts'), '--gate-only', '--no-allocations', '--candidate', candidate, ...(reference === '' ? [] : ['--reference', reference])]
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 600_000 })
  const lines = run.stdout.split('\n').filter((l) => l.includes('candidate / reference') && /(PASS|FAIL)$/.test(l))
  return { failed: run.status !== 0, summary: lines.map((l) => l.replace(/\s+/g, ' ').trim()).join('; ') }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:ci-calibrate --', 'Detection rate of the regression gate for planted slowdowns.', CLI)); return }
  const levels = o.levels.map((l) => {
    const n = Number(l)
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--levels: ${JSON.stringify(l)} is not a percentage`)
    return n
  })
  let baseNs = o.baseNs
  if (baseNs === 0) {
    const unchanged = plantedTree(0)
    const probe = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ci.ts'), '--gate-only', '--no-allocations', '--repeat', '4', '--candidate', unchanged, ...(o.reference === '' ? [] : ['--reference', o.reference])], { cwd: ROOT, encoding: 'utf8' })
    rmSync(unchanged, { recursive: true, force: true })
    const report = JSON.parse(readFileSync(path.join(ROOT, 'reports/ci/latest.json'), 'utf8')) as { samples: Record<string, { candidate: number[] }> }
    const plain = report.samples['broker CPU per delivery, plain']?.candidate ?? []
    if (probe.status !== 0 || plain.length === 0) throw new Error('the first gate run, to size the busy work, failed')
    baseNs = [...plain].sort((a, b) => a - b)[Math.floor(plain.length / 2)] as number
  }
  const perNs = loopsPerNs()
  process.stdout.write(`broker CPU per delivery ${baseNs.toFixed(0)} ns (plain path); planted loop ${perNs.toFixed(2)} iterations per ns\n`)
  const results: Array<{ level: number, loops: number, runs: number, caught: number, summaries: string[] }> = []
  for (const level of levels) {
    const loops = Math.round(baseNs * level / 100 * perNs)
    const tree = plantedTree(loops)
    const r = { level, loops, runs: 0, caught: 0, summaries: [] as string[] }
    results.push(r)
    for (let i = 0; i < o.runs; i++) {
      const g = gate(tree, o.reference)
      r.runs++
      if (g.failed) r.caught++
      r.summaries.push(g.summary)
      process.stdout.write(`  +${level}% (${loops} loops per delivery) run ${i + 1}/${o.runs}: ${g.failed ? 'FAILED (caught)' : 'passed'}  ${g.summary}\n`)
    }
    rmSync(tree, { recursive: true, force: true })
  }
  // What each level really added: the median of the gate's own plain-path ratio over its runs.
  const measured = (r: { summaries: string[] }): number => median(r.summaries.flatMap((s) => [...s.matchAll(/plain: candidate \/ reference (\d+\.\d+)/g)].map((m) => Number(m[1]))))
  process.stdout.write('\nplanted (nominal)  measured CPU ratio (median)  caught\n')
  for (const r of results) process.stdout.write(`${`+${r.level}%`.padStart(17)}  ${measured(r).toFixed(3).padStart(27)}  ${r.caught}/${r.runs}${r.level === 0 ? ' (flaps)' : ''}\n`)
  const dir = path.join(ROOT, 'reports/ci-calibration')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ date: new Date().toISOString(), command: `npm run bench:ci-calibrate -- ${process.argv.slice(2).join(' ')}`.trim(), baseNs, loopsPerNs: perNs, results: results.map((r) => ({ ...r, measuredRatio: measured(r) })) }, null, 2)}\n`)
})
