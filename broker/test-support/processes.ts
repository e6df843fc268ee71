/**
 * Runs one of tickfan's commands as a real child process (node --import tsx <script>, or a
 * bundle such as dist/broker.mjs as it is: broker/bundle.ts loaderFlags), for tests that start,
 * kill and restart components as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loaderFlags } from '../bundle.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface CommandProcess {
  readonly child: ChildProcess
  /** Everything it wrote to stdout and stderr so far. */
  output (): string
  readonly exited: Promise<number | null>
  /** Sends a signal (SIGINT by default) and waits for the exit. */
  stop (signal?: NodeJS.Signals): Promise<number | null>
}

export interface RunOptions {
  env?: Record<string, string>
  /** A command the process is started through, such as a CPU cap's (bench/harness/cpu-cap.ts). */
  prefix?: readonly string[]
  /** Flags for node itself. */
  nodeFlags?: readonly string[]
}

export function runCommand (
  script: string,
  args: readonly string[],
  { env = {}, prefix = [], nodeFlags = [] }: RunOptions = {}
): CommandProcess {
  const [cmd, ...rest] = [
    ...prefix, process.execPath, ...nodeFlags, ...loaderFlags(script), path.resolve(ROOT, script), ...args
  ]
  const child = spawn(cmd as string, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
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
 * Resolves once `command` has printed what `pattern` matches, with the match; rejects, saying
 * everything it printed, as soon as it exits first or after `timeoutMs`.
 */
export async function waitForOutput (
  command: CommandProcess,
  pattern: RegExp,
  timeoutMs: number,
  what: string
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = pattern.exec(command.output())
    if (found !== null) return found
    const { exitCode, signalCode } = command.child
    const exited = exitCode !== null || signalCode !== null
    if (exited || Date.now() > deadline) {
      const why = exited ? `exited (code ${exitCode}, signal ${signalCode})` : `did not print ${pattern} within ${timeoutMs} ms`
      throw new Error(`${what} ${why}; it printed:\n${command.output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A broker started with `startBrokerCommand`, and where it listens, as it printed. */
export interface BrokerCommand {
  readonly broker: CommandProcess
  readonly port: number
  readonly natsUrl: string
  /** null where WebSocket or monitoring is off. */
  readonly wsUrl: string | null
  readonly httpUrl: string | null
}

const READY = /tickfan broker ready[^\n]*\n\s+NATS\s+nats:\/\/[^\s]+:(\d+)\n\s+WebSocket\s+(\S+)\n\s+Monitoring\s+(\S+)\n/

/**
 * `npm run broker` as a child process. Unless `args` say otherwise (the last of a repeated option
 * wins), it listens on 127.0.0.1 on a NATS port the kernel picks, WebSocket and monitoring off;
 * pass `--ws-port=0` or `--http-port=0` for those. A port the kernel picks at bind time cannot be
 * taken by another test in between, as a free port chosen beforehand can (a two-worker broker
 * once failed to start in CI and the test only said it timed out).
 * Resolves with the URLs it printed once ready; rejects with everything it printed when it exits
 * first or is not ready within `timeoutMs` (and then kills it).
 */
export async function startBrokerCommand (
  args: readonly string[],
  { timeoutMs = 30_000, ...run }: { timeoutMs?: number } & RunOptions = {}
): Promise<BrokerCommand> {
  const broker = runCommand('broker/main.ts', ['--host', '127.0.0.1', '--port', '0', '--ws-port=-1', '--http-port=-1', '--log-level', 'warn', ...args], run)
  let ready: RegExpExecArray
  try {
    ready = await waitForOutput(broker, READY, timeoutMs, `the broker (${args.join(' ')})`)
  } catch (err) {
    await broker.stop('SIGKILL')
    throw err
  }
  const port = Number(ready[1])
  const off = (url: string | undefined): string | null => (url === undefined || url === 'off' ? null : url)
  return { broker, port, natsUrl: `nats://127.0.0.1:${port}`, wsUrl: off(ready[2]), httpUrl: off(ready[3]) }
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
  const { broker, natsUrl, httpUrl } = await startBrokerCommand(['--workers', '1', '--http-port=0', '--upstream', upstream.join(','), ...extraArgs])
  return { process: broker, url: natsUrl, httpUrl: httpUrl as string }
}
