import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CoreKeeper, CoreKeeperError, coreList } from './core-keeper.ts'
import { cpuNanoseconds } from './processes.ts'

describe('coreList', () => {
  it('expands a taskset list', () => {
    expect(coreList('0')).toEqual([0])
    expect(coreList('0-3,6')).toEqual([0, 1, 2, 3, 6])
    expect(coreList('2, 4-5')).toEqual([2, 4, 5])
  })

  it.each(['', 'a', '0-', '3-1', '1;2'])('refuses %j, saying why', (spec) => {
    expect(() => coreList(spec)).toThrow(CoreKeeperError)
    expect(() => coreList(spec)).toThrow(/list of cores|backwards/)
  })
})

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 20 ms until it holds or `ms` have passed; returns whether it held. */
async function eventually (check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (check()) return true
  return check()
}

/** The program `pid` runs now (its /proc comm), or '' once it is gone. */
function program (pid: number): string {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() } catch { return '' }
}

/**
 * A keeper on core 0. The suite's machines are Linux with util-linux; elsewhere starting one
 * fails with the reason, which is checked, and the caller has nothing more to test (null).
 */
function keeperOnCore0 (): CoreKeeper | null {
  try {
    return CoreKeeper.start('0')
  } catch (err) {
    expect(err).toBeInstanceOf(CoreKeeperError)
    expect((err as Error).message).toMatch(/Linux|util-linux/)
    return null
  }
}

describe('CoreKeeper', () => {
  it('runs one spinner per core, pinned there at idle priority, until stopped', async () => {
    const keeper = keeperOnCore0()
    if (keeper === null) return
    const [pid] = keeper.pids as [number]
    try {
      expect(keeper.cores).toEqual([0])
      // chrt execs taskset, which execs the shell: the same process throughout, the shell at last
      // (chrt's own command line already names the loop, so the program is what tells).
      expect(await eventually(() => program(pid) === 'sh')).toBe(true)
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('while :; do :; done')
      expect(spawnSync('chrt', ['-p', String(pid)], { encoding: 'utf8' }).stdout).toMatch(/SCHED_IDLE/)
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Cpus_allowed_list:\s+0$/m)
      // It spins, on whatever the busy machine running the tests leaves it.
      const before = cpuNanoseconds(pid) as number
      expect(await eventually(() => (cpuNanoseconds(pid) as number) > before)).toBe(true)
    } finally {
      keeper.stop()
    }
    expect(await eventually(() => cpuNanoseconds(pid) === null)).toBe(true)
    expect(keeper.endedEarly).toEqual([]) // stopped, not ended
  })

  it('says which spinner ended before it was stopped, and how', async () => {
    const keeper = keeperOnCore0()
    if (keeper === null) return
    try {
      process.kill(keeper.pids[0] as number, 'SIGTERM')
      expect(await eventually(() => keeper.endedEarly.length > 0)).toBe(true)
      expect(keeper.endedEarly).toEqual(['core 0: killed by SIGTERM'])
    } finally {
      keeper.stop()
    }
  })
})
