import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuAt, cpuSecondsWithin, sampleCpu, type CpuSample } from './cpu-window.ts'

const S = 1_000_000_000n

describe('cpuAt', () => {
  const samples: CpuSample[] = [[0n, 0], [S, 0.5e9], [2n * S, 0.5e9], [3n * S, 1.5e9]]

  it('is linear between the samples around the moment, exact at a sample', () => {
    expect(cpuAt(samples, S / 2n)).toBeCloseTo(0.25e9)
    expect(cpuAt(samples, S)).toBe(0.5e9)
    expect(cpuAt(samples, 2n * S + S / 4n)).toBeCloseTo(0.75e9)
  })

  it('is null outside the samples', () => {
    expect(cpuAt(samples, -1n)).toBeNull()
    expect(cpuAt(samples, 3n * S + 1n)).toBeNull()
    expect(cpuAt([], 0n)).toBeNull()
  })
})

describe('cpuSecondsWithin', () => {
  it('gives the CPU between two moments, only what fell between them', () => {
    // 2 s of CPU in the first second, then 0.25 s a second
    const samples: CpuSample[] = [[0n, 0], [S, 2e9], [4n * S, 2.75e9]]
    expect(cpuSecondsWithin(samples, S, 4n * S)).toBeCloseTo(0.75)
    expect(cpuSecondsWithin(samples, 0n, 4n * S)).toBeCloseTo(2.75)
    expect(cpuSecondsWithin(samples, S, 5n * S)).toBeNull()
  })

  it('at a steady rate, finds that rate over any window, however the samples fall', () => {
    fc.assert(fc.property(
      fc.double({ min: 0.01, max: 4, noNaN: true }),
      fc.array(fc.integer({ min: 1, max: 500_000_000 }), { minLength: 2, maxLength: 40 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (cores, gaps, a, b) => {
        let t = 0n
        const samples: CpuSample[] = [[0n, 0]]
        for (const g of gaps) { t += BigInt(g); samples.push([t, Number(t) * cores]) }
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        const from = BigInt(Math.floor(Number(t) * lo))
        const to = BigInt(Math.floor(Number(t) * hi))
        const within = cpuSecondsWithin(samples, from, to) as number
        expect(within).toBeCloseTo(Number(to - from) * cores / 1e9, 6)
      }
    ))
  })
})

describe('sampleCpu', () => {
  it('samples the reading in time order until stopped, skipping readings that failed', async () => {
    let cpu = 0
    let fail = false
    const sampler = sampleCpu(() => { cpu += 10; return fail ? null : cpu }, 5)
    await new Promise((resolve) => setTimeout(resolve, 40))
    fail = true
    await new Promise((resolve) => setTimeout(resolve, 20))
    const samples = sampler.stop()
    expect(samples.length).toBeGreaterThanOrEqual(2)
    for (let i = 1; i < samples.length; i++) {
      expect((samples[i] as CpuSample)[0] >= (samples[i - 1] as CpuSample)[0]).toBe(true)
      expect((samples[i] as CpuSample)[1]).toBeGreaterThan((samples[i - 1] as CpuSample)[1])
    }
    const count = samples.length
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(samples.length).toBe(count) // stopped
  })
})
