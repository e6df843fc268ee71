import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecentMap } from './recent-map.ts'

describe('RecentMap', () => {
  it('drops the key written longest ago, telling onEvict, and keeps a key written again', () => {
    const dropped: string[] = []
    const m = new RecentMap<string, number>(2, (k, v) => dropped.push(`${k}=${v}`))
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4)
    expect([...m.keys()]).toEqual(['a', 'c'])
    expect(m.get('a')).toBe(3)
    expect(dropped).toEqual(['b=2'])
    expect(m.evicted).toBe(1)
    m.delete('a')
    m.set('d', 5)
    expect(dropped).toEqual(['b=2'])
    expect([...m.values()]).toEqual([4, 5])
  })

  it('refuses a capacity below 1', () => {
    expect(() => new RecentMap(0)).toThrow('capacity must be at least 1, got 0')
  })

  it('holds, for any writes, the last `capacity` distinct keys written, with their last values', () => {
    const writeList = fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer()))
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), writeList, (capacity, writes) => {
      const m = new RecentMap<number, number>(capacity)
      for (const [k, v] of writes) m.set(k, v)
      const last = new Map<number, number>()
      for (const [k, v] of writes) { last.delete(k); last.set(k, v) }
      const expected = [...last].slice(-capacity)
      expect([...m.keys()]).toEqual(expected.map(([k]) => k))
      expect([...m.values()]).toEqual(expected.map(([, v]) => v))
      expect(m.evicted).toBe(countEvictions(writes.map(([k]) => k), capacity))
    }))
  })
})

/** Evictions a capacity-bounded map of most recent writes makes, counted the slow way. */
function countEvictions (keys: number[], capacity: number): number {
  const held: number[] = []
  let evicted = 0
  for (const k of keys) {
    const at = held.indexOf(k)
    if (at >= 0) held.splice(at, 1)
    else if (held.length >= capacity) { held.shift(); evicted++ }
    held.push(k)
  }
  return evicted
}
