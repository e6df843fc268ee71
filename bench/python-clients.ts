/**
 * The official Python client (nats-py) as a check's peer: finding a Python that has it, and
 * running one of bench/clients/*.py against a broker. The checks that use it
 * (`check:python-history`, `check:python-core`) are not part of `npm test`: CI installs no
 * Python packages.
 */
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { UsageError, type OptionTable } from '../lib/cli-options.ts'
import { ROOT } from './harness/processes.ts'

export const PYTHON_OPTION = {
  python: { type: 'string', default: 'python3', help: 'A Python 3 with nats-py installed' }
} satisfies OptionTable

/** nats-py's version in `python`; a UsageError saying why when it cannot be imported. */
export function natsPyVersion (python: string): string {
  const probe = spawnSync(python, ['-c', 'import nats.js'], { encoding: 'utf8' })
  const why = probe.error?.message ?? (probe.stderr.trim().split('\n').pop() || `exit code ${String(probe.status)}`)
  if (probe.status !== 0) throw new UsageError(`--python ${python}: cannot import nats.js (pip install nats-py): ${why}`)
  return spawnSync(python, ['-c', 'import importlib.metadata as m; print(m.version("nats-py"))'], { encoding: 'utf8' }).stdout.trim()
}

/**
 * Runs bench/clients/`script` with `url` and returns what it printed (asynchronously: the broker
 * it talks to may run in this process). Killed after `timeoutMs`.
 */
export async function runPythonClient (
  python: string,
  script: string,
  url: string,
  timeoutMs = 60_000
): Promise<string> {
  const child = spawn(python, [path.join(ROOT, 'bench/clients', script), url], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${python} bench/clients/${script} ${url} failed: ${err.trim().split('\n').pop() ?? ''}`)
  return out.trim()
}
