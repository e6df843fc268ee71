import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { CAP_PERIOD_US, CpuCap, CpuCapError, capQuota, capShareUsed, capUsedText } from './cpu-cap.ts'
import { cpuNanoseconds } from './processes.ts'

describe('capQuota', () => {
  it('is the share of the period, at least the kernel\'s 1 ms', () => {
    expect(capQuota(0.25, 2)).toEqual({ quotaUs: 2500, periodUs: CAP_PERIOD_US })
    expect(capQuota(1.5, 2)).toEqual({ quotaUs: 15_000, periodUs: CAP_PERIOD_US })
    expect(capQuota(0.01, 2)).toEqual({ quotaUs: 1000, periodUs: CAP_PERIOD_US })
  })

  it.each([[0], [-1], [Number.NaN], [3]])('refuses a share of %s cores on a 2-core machine, saying why', (share) => {
    expect(() => capQuota(share, 2)).toThrow(CpuCapError)
    expect(() => capQuota(share, 2)).toThrow(share > 2 ? /more than this machine's 2/ : /above 0/)
  })
})

describe('capShareUsed', () => {
  it('is the CPU used over the wall time, against the cap', () => {
    // 0.6 s of CPU in 3 s under a quarter of a core: 0.2 of a core, 80% of the cap.
    expect(capShareUsed(0.6, 3, 0.25)).toBeCloseTo(0.8, 10)
    expect(capShareUsed(0.75, 3, 0.25)).toBeCloseTo(1, 10)
  })

  it('is said as a whole percentage of the cap, and not at all uncapped', () => {
    expect(capUsedText(0.976)).toBe('98% of its cap')
    expect(capUsedText(1.012)).toBe('101% of its cap')
    expect(capUsedText(null)).toBe('')
    expect(capUsedText(undefined)).toBe('')
  })

  it('is null uncapped, unsampled or over no time', () => {
    expect(capShareUsed(0.6, 3, undefined)).toBeNull()
    expect(capShareUsed(null, 3, 0.25)).toBeNull()
    expect(capShareUsed(0.6, 0, 0.25)).toBeNull()
  })
})

describe('CpuCap', () => {
  // Where the kernel lets this process make control groups (root, as the suite's machines run)
  // the cap holds a busy process to its share; elsewhere opening one fails with the reason.
  it.each([10_000, 100_000])('holds a busy process to its share of one core per %d us, or says why it cannot', async (periodUs) => {
    let cap: CpuCap
    try {
      cap = CpuCap.open(0.2, 2, `tickfan-cap-test-${process.pid}`, periodUs)
    } catch (err) {
      expect(err).toBeInstanceOf(CpuCapError)
      expect((err as Error).message).toMatch(/cgroup/)
      return
    }
    expect(cap.periodUs).toBe(periodUs)
    const [cmd, ...args] = [...cap.prefix(), process.execPath, '-e', 'for (;;);']
    const busy = spawn(cmd as string, args, { stdio: 'ignore' })
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      const cpuBefore = cpuNanoseconds(busy.pid as number) as number
      const before = process.hrtime.bigint()
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const used = (cpuNanoseconds(busy.pid as number) as number) - cpuBefore
      const wall = Number(process.hrtime.bigint() - before)
      // A busy loop uncapped takes a whole core (1.0); other load on the machine can only lower it.
      expect(used / wall).toBeLessThan(0.3)
    } finally {
      busy.kill('SIGKILL')
      await once(busy, 'exit')
      cap.close()
    }
  })
})
