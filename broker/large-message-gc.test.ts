import { describe, expect, it } from 'vitest'
import { LARGE_MESSAGE_BYTES, LargeMessageGc, collectGarbage, collectionBudget } from './large-message-gc.ts'

const MiB = 1024 * 1024

interface Harness { gc: LargeMessageGc, collected: () => number, runTurn: () => void }

/** A collector whose collections, heap and turns the test controls. */
function harness (minBytes: number, heapBytes = 0): Harness {
  let collected = 0
  const turns: Array<() => void> = []
  let clock = 0
  const gc = new LargeMessageGc({
    minBytes,
    collect: () => { collected++; clock += 3 },
    heapUsed: () => heapBytes,
    schedule: (fn) => { turns.push(fn) },
    clock: () => clock
  })
  return { gc, collected: () => collected, runTurn: () => { for (const fn of turns.splice(0)) fn() } }
}

describe('collectionBudget', () => {
  it('is the floor, or half the heap in use when that is larger', () => {
    expect(collectionBudget(8 * MiB, 4 * MiB)).toBe(8 * MiB)
    expect(collectionBudget(8 * MiB, 40 * MiB)).toBe(20 * MiB)
  })
})

describe('LargeMessageGc', () => {
  it('collects once the large messages since the last collection pass the budget, after the current turn', () => {
    const h = harness(4 * MiB)
    for (let i = 0; i < 3; i++) h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(0)
    h.gc.noteMessage(MiB)
    expect(h.collected()).toBe(0)
    h.runTurn()
    expect(h.collected()).toBe(1)
    expect(h.gc.collections).toBe(1)
    expect(h.gc.collectMs).toBe(3)
  })

  it('starts counting again after a collection, and asks for one collection however many messages arrive before it runs', () => {
    const h = harness(2 * MiB)
    for (let i = 0; i < 10; i++) h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(1)
    h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(1)
    h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(2)
  })

  it('never counts a message below 64 KiB, however many arrive', () => {
    const h = harness(LARGE_MESSAGE_BYTES)
    for (let i = 0; i < 100_000; i++) h.gc.noteMessage(LARGE_MESSAGE_BYTES - 1)
    h.runTurn()
    expect(h.collected()).toBe(0)
    h.gc.noteMessage(LARGE_MESSAGE_BYTES)
    h.runTurn()
    expect(h.collected()).toBe(1)
  })

  it('waits for half the heap when that is more than the floor', () => {
    const h = harness(MiB, 16 * MiB)
    for (let i = 0; i < 7; i++) h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(0)
    h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(1)
  })

  it('leaves collection to V8 with a floor of 0', () => {
    const h = harness(0)
    for (let i = 0; i < 1000; i++) h.gc.noteMessage(MiB)
    h.runTurn()
    expect(h.collected()).toBe(0)
  })

  it('collects through V8\'s gc() without --expose-gc on the command line', async () => {
    const dead = new WeakRef({ payload: Buffer.alloc(LARGE_MESSAGE_BYTES) })
    await new Promise((resolve) => setImmediate(resolve)) // a WeakRef keeps its target until the job ends
    collectGarbage()
    expect(dead.deref()).toBeUndefined()
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined()
  })
})
