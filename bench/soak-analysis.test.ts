import { describe, expect, it } from 'vitest'
import { SLAB_BYTES } from '../broker/history.ts'
import { judgeHistory, judgeSoak, type SoakSample } from './soak-analysis.ts'

const MiB = 1024 * 1024

function run (shape: (i: number) => Partial<SoakSample>, n = 120): SoakSample[] {
  return Array.from({ length: n }, (_, i) => ({
    t: i * 5000, rssBytes: 80 * MiB + (i % 4) * 3 * MiB, heapUsedBytes: 20 * MiB + (i % 5) * MiB, openFds: 40 + (i % 3),
    eventLoopP99Ms: 12, inMsgsPerSec: 3000, outMsgsPerSec: 50_000, connections: 30, ...shape(i)
  }))
}

const verdict = (samples: SoakSample[]): Record<string, boolean> =>
  Object.fromEntries(judgeSoak(samples).map((c) => [c.name, c.pass]))

describe('soak verdict', () => {
  it('passes a flat run with a GC sawtooth', () => {
    expect(Object.values(verdict(run(() => ({}))))).toEqual(Array(6).fill(true))
  })

  it('fails memory that keeps growing', () => {
    const v = verdict(run((i) => ({ rssBytes: 80 * MiB + i * 0.5 * MiB, heapUsedBytes: 20 * MiB + i * 0.4 * MiB })))
    expect(v['memory has no upward trend']).toBe(false)
    expect(v['heap has no upward trend']).toBe(false)
  })

  it('fails leaking descriptors and throughput that falls away', () => {
    const v = verdict(run((i) => ({ openFds: 40 + Math.floor(i / 4), inMsgsPerSec: 3000 - i * 20 })))
    expect(v['open descriptors have no upward trend']).toBe(false)
    expect(v['published throughput holds']).toBe(false)
    expect(v['delivered throughput holds']).toBe(true)
  })

  it('will not judge a run too short to have a trend', () => {
    expect(judgeSoak(run(() => ({}), 10))).toEqual([expect.objectContaining({ name: 'enough samples', pass: false })])
  })
})

describe('history verdict', () => {
  it('passes a history that filled up to its bound and stayed there', () => {
    const samples = run((i) => ({
      historyBytes: Math.min(i, 20) * MiB / 2,
      historyMessages: 1000,
      historyRemoved: Math.max(0, i - 20) * 100
    }))
    expect(judgeHistory(samples, 10 * MiB).pass).toBe(true)
  })
  it('fails one over its bound, one that never reached it, and a run without it', () => {
    expect(judgeHistory(run(() => ({ historyBytes: 11 * MiB, historyRemoved: 5 })), 10 * MiB).pass).toBe(false)
    const below = judgeHistory(run(() => ({ historyBytes: MiB, historyRemoved: 0 })), 10 * MiB)
    expect(below.pass).toBe(false)
    expect(below.detail).toContain('never reached')
    expect(judgeHistory(run(() => ({})), 10 * MiB).pass).toBe(false)
  })
  it('fails slabs past twice the bound, and passes them up to it', () => {
    const full = { historyBytes: 10 * MiB, historyRemoved: 5 }
    const within = judgeHistory(run(() => ({ ...full, historyHeldBytes: 20 * MiB })), 10 * MiB)
    expect(within.pass).toBe(true)
    expect(within.detail).toContain('its slabs at most 20.0 MiB of 20.0 MiB allowed')
    const over = judgeHistory(run((i) => ({ ...full, historyHeldBytes: i === 7 ? 21 * MiB : 12 * MiB })), 10 * MiB)
    expect(over.pass).toBe(false)
    // A small bound still has room for four slabs of holes.
    const small = 4 * SLAB_BYTES / 2
    const held = (bytes: number): boolean =>
      judgeHistory(run(() => ({ historyBytes: small, historyHeldBytes: bytes, historyRemoved: 5 })), small).pass
    expect(held(small + 4 * SLAB_BYTES)).toBe(true)
    expect(held(small + 4 * SLAB_BYTES + 1024)).toBe(false)
  })
})
