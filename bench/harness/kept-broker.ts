/**
 * One broker for a whole maximum-rate search: each step's load connects to the broker the step
 * before it left running, as clients meet a broker in service, instead of to one started for the
 * step. A fresh broker on V8 compiles its per-turn code inside its first step's measured window
 * (reports/broker/capped-lead-checks/jit-20k-first-step.txt), a cost paid once in a broker's life;
 * started again at each step, it paid it at every step. A broker compiled ahead of time
 * (nats-server) has no such start and should find the same maximum either way.
 *
 * Before a step on a broker already used, the last step's load is let go: the broker is waited on
 * until its CPU over QUIET_SAMPLE_MS is under QUIET_SHARE of a core (a failed step leaves a backlog
 * the broker drops as its subscribers leave), for at most QUIET_WAIT_MS. A broker that died in a
 * step is replaced with a fresh one before the next.
 */
import type { BrokerProcess } from './processes.ts'

/** The CPU share under which a broker counts as quiet between steps. */
export const QUIET_SHARE = 0.05
export const QUIET_SAMPLE_MS = 250
export const QUIET_WAIT_MS = 10_000

export interface KeptBrokerClock {
  /** The broker's CPU time so far, in ns (null once it is gone). */
  cpuNanoseconds: (pid: number) => number | null
  sleep: (ms: number) => Promise<void>
}

/** What get() gave: the broker, and how the step found it. */
export interface KeptBrokerTurn {
  broker: BrokerProcess
  /** True when the broker was started for this step (the search's first, or one after a death). */
  fresh: boolean
  /** How long the step waited for the broker to be quiet (ms; 0 for a fresh one). */
  waitedMs: number
  /** False when the broker was still busy after QUIET_WAIT_MS (the step runs anyway, saying so). */
  quiet: boolean
}

export class KeptBroker {
  readonly #start: () => Promise<BrokerProcess>
  readonly #clock: KeptBrokerClock
  #current: BrokerProcess | null = null
  #dead = false

  constructor (start: () => Promise<BrokerProcess>, clock: KeptBrokerClock) {
    this.#start = start
    this.#clock = clock
  }

  /** The broker for the next step: the kept one once it is quiet, or a fresh one. */
  async get (): Promise<KeptBrokerTurn> {
    if (this.#current !== null && !this.#dead) {
      const waited = await this.#untilQuiet(this.#current.pid)
      if (waited !== null && !this.#dead) return { broker: this.#current, fresh: false, ...waited }
    }
    await this.stop()
    const broker = await this.#start()
    this.#current = broker
    this.#dead = false
    void broker.died.then(() => { if (this.#current === broker) this.#dead = true })
    return { broker, fresh: true, waitedMs: 0, quiet: true }
  }

  async stop (): Promise<void> {
    const broker = this.#current
    this.#current = null
    if (broker !== null) await broker.stop()
  }

  /** How long the broker took to be quiet, or null when its process has gone. */
  async #untilQuiet (pid: number): Promise<{ waitedMs: number, quiet: boolean } | null> {
    let before = this.#clock.cpuNanoseconds(pid)
    for (let waitedMs = QUIET_SAMPLE_MS; before !== null; waitedMs += QUIET_SAMPLE_MS) {
      await this.#clock.sleep(QUIET_SAMPLE_MS)
      const after = this.#clock.cpuNanoseconds(pid)
      if (after === null) return null
      if (after - before < QUIET_SHARE * QUIET_SAMPLE_MS * 1e6) return { waitedMs, quiet: true }
      if (waitedMs >= QUIET_WAIT_MS) return { waitedMs, quiet: false }
      before = after
    }
    return null
  }
}
