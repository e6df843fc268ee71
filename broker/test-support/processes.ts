/**
 * Runs one of tickfan's commands as a real child process (node --import tsx <script>), for
 * tests that start, kill and restart components as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts, waitForPort } from '../../lib/ports.ts'

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

/**
 * `npm run broker` as a child process on a free loopback port, WebSocket and monitoring off
 * unless `args` turn them on; resolves once it listens (or rejects with what it printed).
 */
export async function startBrokerCommand (args: readonly string[]): Promise<{ broker: CommandProcess, port: number }> {
  const [port] = await freePorts(1)
  const broker = runCommand('broker/main.ts', ['--host', '127.0.0.1', '--port', String(port), '--ws-port=-1', '--http-port=-1', '--log-level', 'warn', ...args])
  await waitForPort(port, 20_000, broker.exited.then(() => { throw new Error(`broker exited:\n${broker.output()}`) }))
  return { broker, port }
}

/** What a test started and must stop after each case, whatever happened. */
export class StartedProcesses {
  private readonly running: Array<{ stop: () => Promise<unknown> }> = []

  add<T extends { stop: () => Promise<unknown> }> (process: T): T {
    this.running.push(process)
    return process
  }

  async stopAll (): Promise<void> {
    for (const p of this.running.splice(0)) await p.stop()
  }
}

/** A tickfan broker process linked upstream to NATS servers (`--upstream`), one worker. */
export interface LinkedNode { process: CommandProcess, url: string, httpUrl: string }

export async function startLinkedNode (
  upstream: readonly string[],
  extraArgs: readonly string[] = []
): Promise<LinkedNode> {
  const [port, httpPort] = await freePorts(2)
  const process = runCommand('broker/main.ts', ['--workers', '1', '--host', '127.0.0.1', '--port', String(port), `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'warn',
    '--upstream', upstream.join(','), ...extraArgs])
  await waitForPort(httpPort, 20_000)
  return { process, url: `nats://127.0.0.1:${port}`, httpUrl: `http://127.0.0.1:${httpPort}` }
}
