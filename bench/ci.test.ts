/**
 * `npm run bench:ci`'s answers to bad input, each one clear line (and the --help hint) and exit code 2, before any
 * measurement starts: too few repetitions for an interval, a reference commit that does not
 * exist, broker options that are not options or come with allocation samples, and nats-server
 * missing from PATH.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './harness/processes.ts'

function runCi (
  args: string[],
  env: Record<string,
  string> = {}
): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ci.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }))
  })
}

describe('npm run bench:ci refuses bad input in one line', () => {
  it.each([
    [['--repeat', '0'], /--repeat.*at least 1/],
    [['--repeat', '1'], /--repeat: 1 alternations cannot give an interval; use at least 2/],
    [['--gate-only', '--reference', '0123456789abcdef0123456789abcdef01234567'], /reference commit 0123456789abcdef0123456789abcdef01234567 is not in this repository/],
    [['--gate-only', '--no-allocations', '--candidate-broker-args=history-preallocate'], /--candidate-broker-args: "history-preallocate" is not a broker option; give each as --name=value, comma-separated/],
    [['--gate-only', '--reference-broker-args=--history-preallocate'], /--reference-broker-args applies to the brokers' CPU samples; the allocation samples run no broker: add --no-allocations/]
  ])('%j', async (args, message) => {
    const { code, stderr } = await runCi(args)
    expect(code).toBe(2)
    const [error, ...rest] = stderr.trim().split('\n')
    expect(error).toMatch(message)
    expect(rest).toEqual(['Try --help for the list of options.'])
  }, 60_000)

  it('says nats-server is missing when it is not on PATH', async () => {
    const { code, stderr } = await runCi(['--gate-only'], { PATH: path.dirname(process.execPath) })
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')[0]).toBe('error: nats-server is not on PATH: bench:ci measures it beside tickfan (apt-get install -y nats-server)')
  }, 60_000)
})
