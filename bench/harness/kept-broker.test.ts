import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadWorkload } from '../workload.ts'
import { KeptBroker, QUIET_SAMPLE_MS, QUIET_SHARE, QUIET_WAIT_MS, type KeptBrokerClock } from './kept-broker.ts'
import type { BrokerProcess } from './processes.ts'
import { runScenario, startTarget } from './runner.ts'

/** Made-up brokers: each with a pid, a death to trigger, and a record of being stopped. */
interface MadeUpBrokers {
  start: () => Promise<BrokerProcess>
  started: BrokerProcess[]
  stopped: number[]
  kill: (pid: number) => void
}

function brokers (): MadeUpBrokers {
  const started: BrokerProcess[] = []
  const stopped: number[] = []
  const deaths = new Map<number, (how: string) => void>()
  const start = async (): Promise<BrokerProcess> => {
    const pid = 100 + started.length
    const died = new Promise<string>((resolve) => { deaths.set(pid, resolve) })
    const b: BrokerProcess = {
      name: 'tickfan', pid, port: 4222, httpPort: 8222, natsUrl: 'nats://127.0.0.1:4222', died,
      stop: async () => { stopped.push(pid) }
    }
    started.push(b)
    return b
  }
  return { start, started, stopped, kill: (pid) => deaths.get(pid)?.('killed by SIGKILL') }
}

/** A clock whose broker burns `busy[i]` of a core in the i-th sample, then nothing; null for a pid gone. */
function clock (busy: number[], gone = new Set<number>()): KeptBrokerClock & { slept: number } {
  let ns = 0
  const c = {
    slept: 0,
    cpuNanoseconds: (pid: number) => (gone.has(pid) ? null : ns),
    sleep: async (ms: number) => { c.slept += ms; ns += (busy.shift() ?? 0) * ms * 1e6 }
  }
  return c
}

describe('a search\'s kept broker', () => {
  it('starts a broker for the first step and gives the same one to the next once it is quiet', async () => {
    const b = brokers()
    const kept = new KeptBroker(b.start, clock([0.9, 0.5, 0.01]))
    const first = await kept.get()
    expect(first).toMatchObject({ fresh: true, waitedMs: 0, quiet: true })
    const second = await kept.get()
    expect(second.broker).toBe(first.broker)
    // Busy for two samples (90% and 50% of a core), quiet in the third.
    expect(second).toMatchObject({ fresh: false, waitedMs: 3 * QUIET_SAMPLE_MS, quiet: true })
    expect(b.started).toHaveLength(1)
    await kept.stop()
    expect(b.stopped).toEqual([100])
    await kept.stop() // nothing left to stop
    expect(b.stopped).toEqual([100])
  })

  it('counts a broker just under the quiet share as quiet, and one at it as busy', async () => {
    const under = new KeptBroker(brokers().start, clock([QUIET_SHARE * 0.99]))
    await under.get()
    expect(await under.get()).toMatchObject({ waitedMs: QUIET_SAMPLE_MS, quiet: true })
    const at = new KeptBroker(brokers().start, clock([QUIET_SHARE, 0]))
    await at.get()
    expect(await at.get()).toMatchObject({ waitedMs: 2 * QUIET_SAMPLE_MS, quiet: true })
  })

  it('gives a broker that stays busy to the step after QUIET_WAIT_MS, saying it was not quiet', async () => {
    const c = clock(new Array<number>(1000).fill(1))
    const kept = new KeptBroker(brokers().start, c)
    await kept.get()
    expect(await kept.get()).toMatchObject({ fresh: false, waitedMs: QUIET_WAIT_MS, quiet: false })
    expect(c.slept).toBe(QUIET_WAIT_MS)
  })

  it('replaces a broker that died in a step, or whose process has gone, with a fresh one', async () => {
    const b = brokers()
    const gone = new Set<number>()
    const kept = new KeptBroker(b.start, clock([], gone))
    const first = await kept.get()
    b.kill(first.broker.pid)
    await new Promise((resolve) => setImmediate(resolve))
    const second = await kept.get()
    expect(second).toMatchObject({ fresh: true })
    expect(second.broker.pid).toBe(101)
    expect(b.stopped).toEqual([100]) // what is left of the dead one is cleaned up
    gone.add(101) // gone without its death heard yet
    const third = await kept.get()
    expect(third).toMatchObject({ fresh: true })
    expect(third.broker.pid).toBe(102)
    expect(b.started).toHaveLength(3)
  })
})

describe('steps on a kept broker, for real', () => {
  it('measures a second step on the broker the first left running, with none of the first step\'s last values', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-kept-'))
    const file = path.join(dir, 'w.json')
    // Quotes as well as trades: quotes are last-value subjects, whose values the broker keeps and
    // gives a new subscriber as a snapshot.
    writeFileSync(file, JSON.stringify({
      name: 'kept', description: 'quotes and trades', rate: 500, subjects: 10, tradeRatio: 0.5, subscribers: 2, subscriberProcesses: 1, warmupSeconds: 0.5, durationSeconds: 1
    }))
    const w = loadWorkload(file)
    const broker = await startTarget('tickfan', 1, undefined)
    try {
      const first = await runScenario('tickfan', w, 500, 1, { broker, brokerFresh: true, settleMs: 500 })
      const second = await runScenario('tickfan', w, 500, 1, { broker, settleMs: 500 })
      // The first step's values, kept in the broker's last-value cache, would come to the second
      // step's subscribers first, with sequences past the second publisher's: order violations,
      // and wrong final values where a subject's snapshot was all it got.
      for (const r of [first, second]) {
        expect(r.orderViolations).toBe(0)
        expect(r.wrongFinalValues).toBe(0)
        expect(r.tradeLoss).toBe(0)
      }
      expect(second.deliveredRate).toBeGreaterThan(0)
      expect([first.broker.kept, second.broker.kept]).toEqual([false, true])
      // Both runs left the broker running.
      expect(await fetch(`http://127.0.0.1:${broker.httpPort}/varz`).then((r) => r.status)).toBe(200)
    } finally {
      await broker.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
