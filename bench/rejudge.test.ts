import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { keptRun } from './harness/scenario-fixture.ts'
import { ROOT } from './harness/processes.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'tickfan-rejudge-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes a kept run's results.json under the test's folder; returns its folder. */
function keep (run: ReturnType<typeof keptRun>): string {
  const folder = path.join(dir, run.name)
  mkdirSync(folder)
  writeFileSync(path.join(folder, 'results.json'), JSON.stringify(run.results))
  return folder
}

function rejudge (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/rejudge.ts'), ...args], { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
      })
  })
}

describe('npm run bench:rejudge -- --pool', () => {
  const nats = [100_000, 100_000, 100_000, 100_000, 100_000]

  it('writes one report of the runs\' repetitions and says its verdict', async () => {
    const a = keep(keptRun('same-a', [130_000, 125_000, 95_000, 135_000, 120_000], nats, { commit: 'c0ffee' }))
    const b = keep(keptRun('same-b', [125_000, 140_000, 115_000, 90_000, 130_000], nats, { commit: 'c0ffee' }))
    const c = keep(keptRun('same-c', [97_000, 120_000, 135_000, 125_000, 118_000], nats, { commit: 'c0ffee' }))
    const out = path.join(dir, 'pooled')
    const { code, stdout } = await rejudge(['--pool', out, a, b, c])
    expect(code).toBe(0)
    expect(stdout).toMatch(/3 runs pooled:\n/)
    expect(stdout).toMatch(/PASS {10}maximum sustained deliveries\/s, tickfan \/ nats-server: 1\.250 \(target >= 1\); median of 15 runs/)
    const summary = readFileSync(path.join(out, 'summary.md'), 'utf8')
    expect(summary).toContain('3 runs pooled (the first note names them)')
    expect(summary).toContain(`Pooled by npm run bench:rejudge -- --pool: the repetitions of 3 runs of one experiment, judged as one run: ${a} (commit c0ffee,`)
    // The runs themselves are not touched.
    expect(JSON.parse(readFileSync(path.join(a, 'results.json'), 'utf8')).verdicts).toEqual([])
  })

  it('refuses runs of commits whose code differs unless told, then names the files', async () => {
    const a = keep(keptRun('code-a', [100_000, 100_000, 100_000], nats.slice(0, 3), { commit: '9deba48' }))
    const b = keep(keptRun('code-b', [100_000, 100_000, 100_000], nats.slice(0, 3), { commit: '9d240d8' }))
    const refused = await rejudge(['--pool', path.join(dir, 'refused'), a, b])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('error: the runs\' commits differ in broker/client-host.ts, broker/client.ts, broker/history.ts, broker/input-pacing.ts, broker/router.ts: not one experiment.')
    const told = await rejudge(['--pool', path.join(dir, 'told'), a, b, '--despite-code-changes'])
    expect(told.code).toBe(0)
    expect(readFileSync(path.join(dir, 'told', 'summary.md'), 'utf8'))
      .toContain('Their commits differed in broker/client-host.ts, broker/client.ts, broker/history.ts, broker/input-pacing.ts, broker/router.ts; they were pooled anyway (--despite-code-changes).')
  })

  it('refuses runs of different experiments, a report folder that exists, and a file that is no report', async () => {
    const a = keep(keptRun('exp-a', [100_000], [100_000]))
    const b = keep(keptRun('exp-b', [100_000], [100_000], { brokerCpu: 0.5 }))
    const other = await rejudge(['--pool', path.join(dir, 'other'), a, b])
    expect(other.code).toBe(2)
    expect(other.stderr).toContain(`${b} is not the experiment ${a} is: option brokerCpu 0.25 against 0.5`)
    const exists = await rejudge(['--pool', a, a, b])
    expect(exists.code).toBe(2)
    expect(exists.stderr).toContain('already exists; --pool writes a new report folder')
    const broken = path.join(dir, 'broken')
    mkdirSync(broken)
    writeFileSync(path.join(broken, 'results.json'), '{"environment": {')
    const unreadable = await rejudge(['--pool', path.join(dir, 'never'), a, broken])
    expect(unreadable.code).toBe(2)
    expect(unreadable.stderr).toContain(`${path.join(broken, 'results.json')}: not JSON`)
  })
})

describe('npm run bench:rejudge -- <run>', () => {
  it('judges a kept run again in place, naming the rules\' commit, and writes the same file when run again', async () => {
    const run = keep(keptRun('again', [120_000, 125_000, 130_000], [100_000, 100_000, 100_000]))
    const first = await rejudge([run])
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/PASS {10}maximum sustained deliveries\/s, tickfan \/ nats-server: 1\.250 \(target >= 1\)/)
    const written = readFileSync(path.join(run, 'results.json'), 'utf8')
    const notes = (JSON.parse(written) as { notes: string[] }).notes.filter((n) => n.startsWith('Judged again'))
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatch(/^Judged again by npm run bench:rejudge with the verdict rules of commit [0-9a-f]{7,} \(the last to change bench\/harness\/suite-verdicts\.ts,/)
    expect((await rejudge([run])).code).toBe(0)
    expect(readFileSync(path.join(run, 'results.json'), 'utf8')).toBe(written)
  })
})
