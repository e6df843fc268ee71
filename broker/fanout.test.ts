import { describe, expect, it } from 'vitest'
import { FairnessRecord, FanoutScheduler, jainIndex, type FanoutMember } from './fanout.ts'

function seeded (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function members (n: number, log: number[]): FanoutMember[] {
  return Array.from({ length: n }, (_, id) => ({
    queuedForFlush: false,
    fairness: new FairnessRecord(),
    flush: () => { log.push(id) }
  }))
}

function runTurns (scheduler: FanoutScheduler, list: FanoutMember[], turns: number): void {
  for (let t = 0; t < turns; t++) {
    for (const m of list) scheduler.markDirty(m) // always in connect order
    scheduler.turn()
  }
}

describe('fair fan-out scheduler', () => {
  it('flushes each dirty member once per turn, however often it was marked', () => {
    const log: number[] = []
    let scheduled = 0
    const scheduler = new FanoutScheduler({ schedule: () => { scheduled++ }, random: seeded(1) })
    const list = members(3, log)
    for (let i = 0; i < 5; i++) for (const m of list) scheduler.markDirty(m)
    expect(scheduled).toBe(1)
    scheduler.turn()
    expect([...log].sort()).toEqual([0, 1, 2])
  })

  it('gives no subscriber a systematic first place, whatever the connect order', () => {
    const log: number[] = []
    const scheduler = new FanoutScheduler({ schedule: () => {}, random: seeded(42) })
    const list = members(50, log)
    runTurns(scheduler, list, 20_000)
    const shares = list.map((m) => m.fairness.firstShare)
    expect(jainIndex(shares)).toBeGreaterThan(0.95)
    for (const m of list) expect(m.fairness.meanRank).toBeGreaterThan(0.45)
    for (const m of list) expect(m.fairness.meanRank).toBeLessThan(0.55)
  })

  it('without shuffling, the first to connect is always first (the failure mode it prevents)', () => {
    const log: number[] = []
    const scheduler = new FanoutScheduler({ schedule: () => {}, shuffle: false })
    const list = members(10, log)
    runTurns(scheduler, list, 100)
    expect(list[0]?.fairness.firstShare).toBe(1)
    expect(jainIndex(list.map((m) => m.fairness.firstShare))).toBeCloseTo(0.1)
  })

  it('serves a member marked during a turn in the next turn', () => {
    const log: string[] = []
    const scheduler = new FanoutScheduler({ schedule: () => {} })
    const late: FanoutMember = { queuedForFlush: false, fairness: new FairnessRecord(), flush: () => { log.push('late') } }
    const early: FanoutMember = { queuedForFlush: false, fairness: new FairnessRecord(), flush: () => { log.push('early'); scheduler.markDirty(late) } }
    scheduler.markDirty(early)
    scheduler.turn()
    expect(log).toEqual(['early'])
    scheduler.turn()
    expect(log).toEqual(['early', 'late'])
  })

  it("computes Jain's index", () => {
    expect(jainIndex([1, 1, 1, 1])).toBe(1)
    expect(jainIndex([1, 0, 0, 0])).toBe(0.25)
  })
})
