import { describe, expect, it } from 'vitest'
import type { ConnectionResult } from '../load/subscriber-group.ts'
import { conflationRatio, fairJainExpected, fairness, jain, pearson, tradeLoss, windowStartLatency, wrongFinalValues } from './metrics.ts'

function conn (
  index: number,
  samples: Array<[number, number]>,
  extra: Partial<ConnectionResult> = {}
): ConnectionResult {
  return {
    index,
    worker: 0,
    received: 0,
    trades: 0,
    skipped: 0,
    orderViolations: 0,
    lastSeq: {},
    windowStartLatencyUs: null,
    samples: samples.map(([s, t]) => [s, String(t)]),
    ...extra
  }
}

describe('suite metrics', () => {
  it('ranks connections per message: a connection always first is unfair and correlated with connect order', () => {
    const seqs = Array.from({ length: 100 }, (_, i) => i)
    const conns = [0, 1, 2, 3].map((k) => conn(k, seqs.map((s) => [s, 1000 * s + k * 10])))
    const f = fairness(conns)
    expect(f.messages).toBe(100)
    expect(f.firstShare).toEqual([1, 0, 0, 0])
    expect(f.jainFirstPlaces).toBeCloseTo(0.25)
    expect(f.rankConnectOrderCorrelation).toBeCloseTo(1)
    expect(f.spreadUs.max).toBeCloseTo(0.03)
  })

  it('groups first places by worker: the subscribers that share the publisher\'s worker winning is seen', () => {
    const seqs = Array.from({ length: 100 }, (_, i) => i)
    // Connections 0 and 1 on worker 0 (with the publisher) are always ahead of 2 and 3 on worker 1.
    const conns = [0, 1, 2, 3].map((k) => conn(
      k,
      seqs.map((s) => [s, 1000 * s + (k < 2 ? (s + k) % 2 : 50 + k)]),
      { worker: k < 2 ? 0 : 1 }
    ))
    expect(fairness(conns).byWorker).toEqual([
      { worker: 0, subscribers: 2, subscriberShare: 0.5, firstShare: 1 },
      { worker: 1, subscribers: 2, subscriberShare: 0.5, firstShare: 0 }
    ])
  })

  it('finds a rotating order fair', () => {
    const seqs = Array.from({ length: 400 }, (_, i) => i)
    const conns = [0, 1, 2, 3].map((k) => conn(k, seqs.map((s) => [s, 1000 * s + ((k + s) % 4) * 10])))
    const f = fairness(conns)
    expect(f.jainFirstPlaces).toBeCloseTo(1)
    expect(Math.abs(f.rankConnectOrderCorrelation)).toBeLessThan(0.1)
  })

  it('counts wrong final values, trade loss and the conflation ratio', () => {
    const a = conn(0, [], { lastSeq: { x: 5, y: 7 }, trades: 10, received: 90, skipped: 10 })
    const b = conn(1, [], { lastSeq: { x: 5, y: 6 }, trades: 8, received: 100 })
    expect(wrongFinalValues([a, b], { x: 5, y: 7 })).toBe(1)
    expect(tradeLoss([a, b], 10)).toBe(2)
    expect(conflationRatio([a, b])).toBeCloseTo(10 / 200)
  })

  it('takes the backlog at the window\'s start from the connection that got its first message latest', () => {
    const early = conn(0, [], { windowStartLatencyUs: 1_500 })
    const late = conn(1, [], { windowStartLatencyUs: 950_000 })
    const none = conn(2, [])
    expect(windowStartLatency([early, late, none])).toBe(950_000)
    expect(windowStartLatency([none, early])).toBe(1_500)
    expect(windowStartLatency([conn(0, [], { windowStartLatencyUs: 0 })])).toBe(0)
    expect(windowStartLatency([none])).toBeNull()
    expect(windowStartLatency([])).toBeNull()
  })

  it("knows what Jain's index a fair random order scores on a given number of messages", () => {
    // simulate: every message's first place goes to a uniformly random connection
    let seed = 7
    const random = (): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 }
    for (const [n, m] of [[50, 1500], [50, 6000], [4, 100]] as const) {
      const scores: number[] = []
      for (let trial = 0; trial < 200; trial++) {
        const firsts = new Array<number>(n).fill(0)
        for (let i = 0; i < m; i++) { const k = Math.floor(random() * n); firsts[k] = (firsts[k] ?? 0) + 1 }
        scores.push(jain(firsts))
      }
      const mean = scores.reduce((a, b) => a + b, 0) / scores.length
      expect(mean).toBeCloseTo(fairJainExpected(n, m), 2)
    }
    expect(fairJainExpected(50, 1500)).toBeLessThan(0.97)
    expect(fairJainExpected(1, 10)).toBe(1)
  })

  it("computes Jain's index and correlation", () => {
    expect(jain([1, 1])).toBe(1)
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1)
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1)
  })
})
