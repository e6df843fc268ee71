import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SubjectTrie, type Interest } from './subject-trie.ts'
import { subjectMatches } from './subjects.ts'

interface TestSub extends Interest { id: number }

const token = fc.constantFrom('a', 'b', 'c', 'quote', 'BTC-USD')
const literal = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'))
const pattern = fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 4 })
  .chain((tokens) => fc.boolean().map((tail) => (tail ? [...tokens, '>'] : tokens).join('.')))

describe('subject trie', () => {
  it('matches exactly what a brute-force matcher matches, through inserts and removals', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ subject: pattern, queue: fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined }) }), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 15 }),
      fc.array(literal, { minLength: 1, maxLength: 10 }),
      (specs, removals, subjects) => {
        const trie = new SubjectTrie<TestSub>()
        const live: TestSub[] = specs.map((s, id) => ({ ...s, id }))
        for (const sub of live) trie.insert(sub)
        for (const subject of subjects) trie.match(subject) // warm the cache so removal must invalidate it
        for (const r of removals) {
          if (live.length === 0) break
          const [victim] = live.splice(r % live.length, 1)
          expect(trie.remove(victim as TestSub)).toBe(true)
        }
        expect(trie.size).toBe(live.length)
        for (const subject of subjects) {
          const result = trie.match(subject)
          const expectedPlain = live
            .filter((s) => s.queue === undefined && subjectMatches(s.subject, subject))
            .map((s) => s.id)
            .sort((a, b) => a - b)
          expect(result.plain.map((s) => s.id).sort((a, b) => a - b)).toEqual(expectedPlain)
          const expectedGroups = new Map<string, number[]>()
          for (const s of live) {
            if (s.queue !== undefined && subjectMatches(s.subject, subject)) expectedGroups.set(
              s.queue,
              [...(expectedGroups.get(s.queue) ?? []), s.id]
            )
          }
          const gotGroups = result.groups.map((g) => g.map((s) => s.id).sort((a, b) => a - b)).sort()
          expect(gotGroups).toEqual([...expectedGroups.values()].map((g) => g.sort((a, b) => a - b)).sort())
        }
      }
    ), { numRuns: 300 })
  })

  it('caches a subject until interest changes', () => {
    const trie = new SubjectTrie<TestSub>()
    const a: TestSub = { subject: 'quote.*', queue: undefined, id: 1 }
    trie.insert(a)
    expect(trie.match('quote.x').plain).toEqual([a])
    expect(trie.match('quote.x').plain).toEqual([a])
    expect(trie.cacheHits).toBe(1)
    const b: TestSub = { subject: 'quote.x', queue: undefined, id: 2 }
    trie.insert(b)
    expect(trie.match('quote.x').plain).toHaveLength(2)
  })

  it('prunes empty branches so unique subjects do not leak', () => {
    const trie = new SubjectTrie<TestSub>()
    for (let i = 0; i < 100; i++) {
      const sub: TestSub = { subject: `_INBOX.${i}.x`, queue: undefined, id: i }
      trie.insert(sub)
      trie.remove(sub)
    }
    expect(trie.size).toBe(0)
    expect((trie as unknown as { root: { literal: Map<string, unknown> } }).root.literal.size).toBe(0)
  })

  it('refuses to remove a subscription it does not hold', () => {
    const trie = new SubjectTrie<TestSub>()
    expect(trie.remove({ subject: 'a.b', queue: undefined, id: 1 })).toBe(false)
  })
})
