/**
 * `npm run bench` end to end on a tiny workload, both targets for real: a tickfan that dies
 * mid-run is reported as such, with how it died, and the rest of the suite goes on (nats-server
 * is measured, the report is written, the exit code says something could not be measured).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT } from './harness/processes.ts'
import type { SuiteResults } from './report/write.ts'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

interface SuiteRun { code: number | null, stdout: string, stderr: string }

function runSuite (args: string[], env: Record<string, string>): Promise<SuiteRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/suite.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 90_000 }, (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }))
  })
}

/** A folder for one run, with a tiny workload file in it. */
function tinyWorkload (durationSeconds: number): { dir: string, workload: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-suite-'))
  dirs.push(dir)
  const workload = path.join(dir, 'tiny.json')
  writeFileSync(workload, JSON.stringify({ name: 'tiny', description: 'two subscribers at 500 msgs/s', rate: 500, subscribers: 2, subscriberProcesses: 1, warmupSeconds: 0.5, durationSeconds }))
  return { dir, workload }
}

describe('npm run bench', () => {
  it('refuses a quota period without a quota, saying what is missing', async () => {
    const { code, stdout, stderr } = await runSuite(['--broker-cpu-period-ms', '100', '--workloads', 'steady'], {})
    expect(code).toBe(2)
    expect(stderr).toMatch(/--broker-cpu-period-ms sets the period of --broker-cpu's quota: give --broker-cpu <share of a core> too/)
    expect(stdout).toBe('') // nothing was measured
  })

  it('reports a target that fails to start, and measures the rest', async () => {
    const { dir, workload } = tinyWorkload(1)
    const { code, stdout } = await runSuite(['--workloads', workload, '--out', dir, '--stamp', 'run', '--http-seconds', '0'], { TICKFAN_BROKER_ARGS: '--no-such-option' })
    expect(stdout).toMatch(/tickfan tiny at 500\/s failed: tickfan broker failed to start \(exited with code [1-9]\d*\)/)
    expect(stdout).toMatch(/nats-server tiny 500\/s: delivered [\d,]+\/s/)
    expect(code).toBe(1)
  }, 100_000)

  it('with --profile keeps the tickfan broker\'s CPU profile beside a flame graph the report links to', async () => {
    const { dir, workload } = tinyWorkload(1)
    const { code } = await runSuite(['--workloads', workload, '--targets', 'tickfan', '--out', dir, '--stamp', 'run', '--http-seconds', '0', '--profile'], {})
    expect(code).toBe(0)
    const run = path.join(dir, 'run')
    const profile = JSON.parse(readFileSync(path.join(run, 'profile-tiny.cpuprofile'), 'utf8')) as { nodes: unknown[] }
    expect(profile.nodes.length).toBeGreaterThan(0)
    expect(readFileSync(path.join(run, 'profile-tiny.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*router\.ts/)
    expect(readFileSync(path.join(run, 'report.html'), 'utf8')).toContain('<a href="profile-tiny.svg">flame graph</a>')
    expect(readFileSync(path.join(run, 'summary.md'), 'utf8')).toMatch(/### tiny: tiny at 500 msgs\/s, 1 worker/)
    // Without --profile, none.
    const plain = tinyWorkload(1)
    await runSuite(['--workloads', plain.workload, '--targets', 'tickfan', '--out', plain.dir, '--stamp', 'run', '--http-seconds', '0'], {})
    expect(existsSync(path.join(plain.dir, 'run', 'report.html'))).toBe(true)
    expect(existsSync(path.join(plain.dir, 'run', 'profile-tiny.svg'))).toBe(false)
  }, 100_000)

  it('runs a search\'s steps on one broker, started for its first step, or with --broker-per-step one for each, and says which', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-suite-'))
    dirs.push(dir)
    const workload = path.join(dir, 'tiny-max.json')
    const shape = { description: 'one step', subscribers: 2, subscriberProcesses: 1, warmupSeconds: 0.5, durationSeconds: 1 }
    writeFileSync(workload, JSON.stringify({ name: 'tiny-max', ...shape, rate: 'max', rateSteps: [500] }))
    const search = async (extra: string[]): Promise<{ stdout: string, notes: string[] }> => {
      const stamp = extra.length === 0 ? 'kept' : 'per-step'
      const { code, stdout } = await runSuite(['--workloads', workload, '--targets', 'tickfan', '--out', dir, '--stamp', stamp, '--http-seconds', '0', ...extra], {})
      expect(code).toBe(0)
      return { stdout, notes: (JSON.parse(readFileSync(path.join(dir, stamp, 'results.json'), 'utf8')) as SuiteResults).notes }
    }
    const kept = await search([])
    expect(kept.stdout).toMatch(/tickfan tiny-max 500\/s, on a broker started for it: delivered/)
    expect(kept.notes).toContainEqual(expect.stringMatching(/^Each maximum-rate search ran its steps on one broker/))
    const each = await search(['--broker-per-step'])
    expect(each.stdout).toMatch(/tickfan tiny-max 500\/s: delivered/)
    expect(each.notes).toContainEqual(expect.stringMatching(/^Each step of a maximum-rate search started a fresh broker \(--broker-per-step\)/))
  }, 100_000)

  it('reports a target that dies mid-run, and measures the rest', async () => {
    const { dir, workload } = tinyWorkload(5)
    // Loaded into the tickfan broker only (TICKFAN_BROKER_NODE_ARGS): it kills itself 2 s in.
    const dies = path.join(dir, 'dies.mjs')
    writeFileSync(dies, "setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000)\n")
    const { code, stdout } = await runSuite(['--workloads', workload, '--out', dir, '--stamp', 'run', '--http-seconds', '0'], { TICKFAN_BROKER_NODE_ARGS: `--import ${pathToFileURL(dies).href}` })
    expect(stdout).toMatch(/tickfan tiny at 500\/s failed: tickfan died mid-run \(killed by SIGKILL\)/)
    expect(stdout).toMatch(/nats-server tiny 500\/s: delivered [\d,]+\/s, p99 [\d.]+ ms, first in the window [\d.]+ ms late/)
    expect(stdout).toMatch(/1 run\(s\) could not be measured/)
    expect(code).toBe(1)
    const results = JSON.parse(readFileSync(path.join(dir, 'run', 'results.json'), 'utf8')) as SuiteResults
    expect(results.failures).toEqual([expect.stringContaining('tickfan died mid-run (killed by SIGKILL)')])
    expect(results.scenarios.map((s) => s.target)).toEqual(['nats-server'])
    expect(results.scenarios[0]?.tradeLoss).toBe(0)
    // Measured from the window's first message: a broker keeping up at 500 msgs/s has no backlog of seconds.
    const backlogUs = results.scenarios[0]?.fast.windowStartLatencyUs
    expect(backlogUs).toBeGreaterThanOrEqual(0)
    expect(backlogUs).toBeLessThan(1_000_000)
  }, 100_000)
})
