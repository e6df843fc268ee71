/**
 * Keeps a capped broker's cores awake. Under a CPU quota a broker runs a slice of each period
 * and then waits, throttled, and its core goes idle: on this project's virtual machines (KVM,
 * the guest's idle driver halting at once) an idle core is handed back to the host, and the
 * broker's next slice runs slower. A quarter-core tickfan at 240,000 msgs/s spent 0.59-0.94 s
 * of CPU per million deliveries with its core left to idle and 0.52-0.74 with it kept busy,
 * and nats-server at 320,000 0.39-0.50 against 0.38-0.42 (reports/broker/core-keeper.md): the spread came
 * from the machine, not the brokers, and decided where a maximum-rate search ended.
 *
 * A keeper is one spinner per core, pinned there, at idle priority (Linux SCHED_IDLE): it runs
 * only on cycles nothing else wants, so a broker that can run preempts it at once, and its core
 * never idles. A shell loop: no system calls, nothing in memory to speak of.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'

export class CoreKeeperError extends Error {}

/** The cores a taskset list such as "0-3,6" names, in order; throws CoreKeeperError on anything else. */
export function coreList (spec: string): number[] {
  const cores: number[] = []
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (m === null) throw new CoreKeeperError(`"${spec}" is not a list of cores such as 0-3,6`)
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    if (hi < lo) throw new CoreKeeperError(`"${part}" in "${spec}" runs backwards`)
    for (let c = lo; c <= hi; c++) cores.push(c)
  }
  return cores
}

const TOOLS = ['/usr/bin/chrt', '/usr/bin/taskset']

export class CoreKeeper {
  readonly cores: readonly number[]
  readonly #spinners: ChildProcess[]
  #stopping = false
  /** How the spinners that ended before stop() ended (a core that idled from then on), if any did. */
  readonly endedEarly: string[] = []

  private constructor (cores: number[], spinners: ChildProcess[]) {
    this.cores = cores
    this.#spinners = spinners
    spinners.forEach((s, i) => {
      const ended = (how: string): void => { if (!this.#stopping) this.endedEarly.push(`core ${cores[i] ?? '?'}: ${how}`) }
      s.once('error', (err) => ended(err.message))
      s.once('exit', (code, signal) => ended(signal !== null ? `killed by ${signal}` : `exited with code ${code ?? '?'}`))
    })
  }

  /**
   * Starts a spinner on each core of `spec` (a taskset list). Throws CoreKeeperError with the
   * reason where it cannot: not Linux, or chrt or taskset (util-linux) missing.
   */
  static start (spec: string): CoreKeeper {
    const cores = coreList(spec)
    if (process.platform !== 'linux') throw new CoreKeeperError('keeping cores awake needs Linux (SCHED_IDLE)')
    const missing = TOOLS.filter((t) => !existsSync(t))
    if (missing.length > 0) throw new CoreKeeperError(`keeping cores awake needs ${missing.join(' and ')} (Debian: util-linux)`)
    const spinners = cores.map((core) => spawn(
      'chrt', ['-i', '0', 'taskset', '-c', String(core), 'sh', '-c', 'while :; do :; done'],
      { stdio: 'ignore' }
    ))
    const keeper = new CoreKeeper(cores, spinners)
    // However the run ends, the spinners end with it.
    process.once('exit', () => keeper.stop())
    return keeper
  }

  /** The spinners' process ids, one per core, in the order of `cores`. */
  get pids (): number[] {
    return this.#spinners.map((s) => s.pid ?? -1)
  }

  /** Ends the spinners. */
  stop (): void {
    this.#stopping = true
    for (const s of this.#spinners) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL')
  }
}
