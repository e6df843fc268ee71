/**
 * Runs one of tickfan's commands as a real child process (node --import tsx <script>), for
 * tests that start, kill and restart components as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface CommandProcess {
  readonly child: ChildProcess
  /** Everything it wrote to stdout and stderr so far. */
  output (): string
  readonly exited: Promise<number | null>
  /** Sends a signal (SIGINT by default) and waits for the exit. */
  stop (signal?: NodeJS.Signals): Promise<number | null>
}

export function runCommand (script: string, args: readonly string[], env: Record<string, string> = {}): CommandProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => output,
    exited,
    async stop (signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return await exited
    }
  }
}
