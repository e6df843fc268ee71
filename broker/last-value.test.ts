import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LastValueCache } from './last-value.ts'
import { SubjectClass } from './subject-classes.ts'
import { RoutedMessage } from './wire.ts'
import { subjectMatches } from './subjects.ts'

function msg (subject: string, payload: string, sequence?: number, atMs = 0): RoutedMessage {
  return new RoutedMessage(subject, undefined, SubjectClass.LastValue, Buffer.from(payload), 0, atMs, sequence)
}

describe('last-value cache', () => {
  it('keeps the newest value of each subject', () => {
    const lvc = new LastValueCache()
    lvc.offer(msg('quote.a', '1'))
    lvc.offer(msg('quote.a', '2'))
    expect(lvc.get('quote.a')?.payload().toString()).toBe('2')
    expect(lvc.size).toBe(1)
  })

  it('drops and counts a value whose sequence is older than the cached one', () => {
    const lvc = new LastValueCache()
    expect(lvc.offer(msg('quote.a', 'ten', 10))).toBe('stored')
    expect(lvc.offer(msg('quote.a', 'nine', 9))).toBe('older')
    expect(lvc.get('quote.a')?.payload().toString()).toBe('ten')
    expect(lvc.olderDropped).toBe(1)
  })

  it('lets a lower sequence in once the cached one has stood unreplaced for the hold time: nothing pins a subject forever', () => {
    const lvc = new LastValueCache({ sequenceHoldMs: 30_000 })
    lvc.offer(msg('quote.a', 'pinned', Number.MAX_SAFE_INTEGER, 1000))
    expect(lvc.offer(msg('quote.a', 'real', 5, 30_999))).toBe('older')
    expect(lvc.offer(msg('quote.a', 'real', 6, 31_000))).toBe('stored')
    expect(lvc.get('quote.a')?.payload().toString()).toBe('real')
    // From then on the order holds again, timed from the value that replaced it.
    expect(lvc.offer(msg('quote.a', 'late', 5, 31_001))).toBe('older')
  })

  it("keeps a wildcard's subject list until a subject enters or leaves, and orders stores", () => {
    const lvc = new LastValueCache({ maxSubjects: 3 })
    for (const s of ['quote.b', 'quote.a', 'trade.x']) lvc.offer(msg(s, s))
    const first = lvc.subjectsMatching('quote.>')
    expect(first).toEqual(['quote.b', 'quote.a']) // in the order they entered, not sorted
    lvc.offer(msg('quote.a', 'newer')) // an update: same subjects, the same list
    expect(lvc.subjectsMatching('quote.>')).toBe(first)
    expect(lvc.get('quote.a')?.cacheOrder).toBe(lvc.stores)
    lvc.offer(msg('quote.c', 'c')) // enters, and evicts one: a new list
    expect(lvc.subjectsMatching('quote.>')).not.toBe(first)
    expect(lvc.subjectsMatching('quote.>')).toEqual(lvc.snapshot('quote.>').map((m) => m.subject))
    expect(lvc.subjectsMatching('quote.zzz')).toEqual([])
  })

  it("brings a wildcard's list up to date by the subjects that entered and left: always what a fresh scan gives, old lists untouched", () => {
    const patterns = ['quote.>', 'quote.*.BTC', 'quote.a.*', '>']
    const op = fc.oneof(
      fc.record({ kind: fc.constant('offer' as const), subject: fc.constantFrom('quote.a.BTC', 'quote.b.BTC', 'quote.a.ETH', 'quote.c.X', 'trade.a.BTC', 'bbo.a.BTC', 'quote.d.BTC', 'quote.a.SOL') }),
      fc.record({ kind: fc.constant('delete' as const), subject: fc.constantFrom('quote.a.BTC', 'quote.c.X', 'bbo.a.BTC') }),
      fc.record({ kind: fc.constant('match' as const), pattern: fc.constantFrom(...patterns) }),
      fc.record({ kind: fc.constant('burst' as const), n: fc.integer({ min: 1, max: 1500 }) }) // past the changes kept, sometimes
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 2, max: 6 }), (ops, maxSubjects) => {
      const lvc = new LastValueCache({ maxSubjects })
      const given: Array<{ list: readonly string[], copy: string[] }> = []
      let t = 0
      let fresh = 0
      for (const o of ops) {
        if (o.kind === 'offer') lvc.offer(msg(o.subject, 'x', undefined, ++t))
        else if (o.kind === 'delete') lvc.delete(o.subject)
        else if (o.kind === 'burst') for (let i = 0; i < o.n; i++) lvc.offer(msg(`quote.burst.S${fresh++}`, 'x', undefined, ++t))
        else {
          const list = lvc.subjectsMatching(o.pattern)
          const scanned = lvc.snapshot('>').map((m) => m.subject).filter((s) => subjectMatches(o.pattern, s)).sort()
          expect([...list].sort()).toEqual(scanned) // each subject once (scanned has no repeats), in any order
          given.push({ list, copy: [...list] })
        }
      }
      for (const g of given) expect(g.list).toEqual(g.copy) // a list handed out is never changed
    }))
  })

  it('says what a list cost: the whole cache when scanned, the changes and a fifth of the list when merged, nothing when reused', () => {
    const lvc = new LastValueCache()
    for (let i = 0; i < 100; i++) lvc.offer(msg(`quote.s${i}`, 'x'))
    lvc.subjectsMatching('quote.>')
    expect(lvc.lastScanned).toBe(100)
    lvc.subjectsMatching('quote.>')
    expect(lvc.lastScanned).toBe(0)
    lvc.offer(msg('quote.new', 'x'))
    lvc.offer(msg('trade.new', 'x'))
    expect(lvc.subjectsMatching('quote.>')).toHaveLength(101)
    expect(lvc.lastScanned).toBe(2 + 100 / 5)
    lvc.subjectsMatching('quote.x')
    expect(lvc.lastScanned).toBe(0)
  })

  it('merges a few subjects leaving, and many, into the same list a fresh scan gives', () => {
    for (const leaving of [3, 40]) { // either side of the 16 a merge finds one by one
      const lvc = new LastValueCache()
      for (let i = 0; i < 100; i++) lvc.offer(msg(`quote.s${i}`, 'x'))
      const before = lvc.subjectsMatching('quote.>')
      for (let i = 0; i < leaving; i++) lvc.delete(`quote.s${i * 2}`)
      lvc.offer(msg('quote.s0', 'back')) // left and came back: still once
      lvc.offer(msg('quote.new', 'x'))
      const after = lvc.subjectsMatching('quote.>')
      expect(lvc.lastScanned).toBeLessThan(100) // merged, not scanned
      const expected = ['quote.new', ...Array.from({ length: 100 }, (_, i) => `quote.s${i}`).filter((s, i) => s === 'quote.s0' || i % 2 === 1 || i >= leaving * 2)]
      expect([...after].sort()).toEqual(expected.sort())
      expect(before).toHaveLength(100)
    }
  })

  it('accepts an idempotent re-publish of the same sequence', () => {
    const lvc = new LastValueCache()
    lvc.offer(msg('quote.a', 'ten', 10))
    expect(lvc.offer(msg('quote.a', 'ten again', 10))).toBe('stored')
    expect(lvc.olderDropped).toBe(0)
  })

  it('returns a wildcard snapshot in the order its subjects entered the cache', () => {
    const lvc = new LastValueCache()
    for (const s of ['quote.k.ETH', 'quote.b.BTC', 'quote.c.BTC', 'trade.b.BTC']) lvc.offer(msg(s, s))
    expect(lvc.snapshot('quote.*.BTC').map((m) => m.subject)).toEqual(['quote.b.BTC', 'quote.c.BTC'])
    expect(lvc.snapshot('quote.>').map((m) => m.subject)).toEqual(['quote.k.ETH', 'quote.b.BTC', 'quote.c.BTC'])
    expect(lvc.snapshot('quote.b.BTC')).toHaveLength(1)
    expect(lvc.snapshot('quote.z.BTC')).toHaveLength(0)
  })

  it('evicts the least recently updated subject past its bound, and tracks bytes', () => {
    const lvc = new LastValueCache({ maxSubjects: 2 })
    const at = (subject: string, payload: string, t: number): RoutedMessage =>
      new RoutedMessage(subject, undefined, SubjectClass.LastValue, Buffer.from(payload), 0, t, undefined)
    lvc.offer(at('a', 'x', 1))
    lvc.offer(at('b', 'x', 2))
    lvc.offer(at('a', 'y', 3)) // a is now the most recently updated
    lvc.offer(at('c', 'x', 4))
    expect(lvc.get('b')).toBeUndefined()
    expect(lvc.get('a')).toBeDefined()
    expect(lvc.evicted).toBe(1)
    expect(lvc.bytes).toBe(2 * 3)
  })

  it('under a sprawl of new subjects, samples its way round the cache: recently updated subjects stay', () => {
    // Ten hot subjects among 100, each updated before every new one arrives: every sample of
    // 16 in a row holds a colder subject, so none of them is ever the stalest. The samples go
    // round the cache many times here (and start over at its end).
    const lvc = new LastValueCache({ maxSubjects: 100 })
    let t = 0
    const at = (subject: string): RoutedMessage =>
      new RoutedMessage(subject, undefined, SubjectClass.LastValue, Buffer.from('x'), 0, ++t, undefined)
    const hot = Array.from({ length: 10 }, (_, i) => `quote.hot${i}`)
    for (let i = 0; i < 90; i++) {
      if (i % 9 === 0) lvc.offer(at(hot[i / 9] as string))
      lvc.offer(at(`quote.cold${i}`))
    }
    expect(lvc.size).toBe(100)
    for (let i = 0; i < 5000; i++) {
      for (const subject of hot) lvc.offer(at(subject))
      lvc.offer(at(`quote.new${i}`))
      expect(lvc.size).toBe(100)
    }
    expect(lvc.evicted).toBe(5000)
    for (const subject of hot) expect(lvc.get(subject)).toBeDefined()
    expect(lvc.get('quote.new4999')).toBeDefined()
    expect(lvc.get('quote.cold0')).toBeUndefined()
  })

  it('keeps its message bytes within maxBytes, whatever the message sizes, evicting the stalest', () => {
    const lvc = new LastValueCache({ maxBytes: 10_000 })
    for (let i = 0; i < 100; i++) {
      lvc.offer(new RoutedMessage(`quote.s${i}`, undefined, SubjectClass.LastValue, Buffer.alloc(1000), 0, i, undefined))
      expect(lvc.bytes).toBeLessThanOrEqual(10_000)
    }
    expect(lvc.size).toBeLessThanOrEqual(10)
    expect(lvc.get('quote.s99')).toBeDefined() // the newest stays
    expect(lvc.evicted).toBe(100 - lvc.size)
  })
})
