import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolveOptions } from './options.ts'
import { Router } from './router.ts'
import { INTERNER_SLOTS, MAX_INTERNED_BYTES, SubjectInterner } from './subject-intern.ts'

const words = (buf: Buffer): DataView => new DataView(buf.buffer, buf.byteOffset, buf.length)

describe('SubjectInterner', () => {
  it('gives the same string for the same bytes, and slices what is too long to keep', () => {
    const interner = new SubjectInterner()
    const a = Buffer.from('PUB quote.binance.BTC-USD 5\r\n')
    const b = Buffer.from('xxquote.binance.BTC-USD')
    const first = interner.intern(a, words(a), 4, 25)
    expect(first).toBe('quote.binance.BTC-USD')
    expect(interner.intern(b, words(b), 2, 23)).toBe(first)
    expect([interner.hits, interner.misses]).toEqual([1, 1])
    const long = Buffer.from('x'.repeat(MAX_INTERNED_BYTES + 1))
    expect(interner.intern(long, words(long), 0, long.length)).toBe(long.toString('latin1'))
    expect(interner.intern(long, words(long), 0, long.length)).toBe(long.toString('latin1'))
    expect(interner.hits).toBe(1)
  })

  it('returns exactly the bytes asked for, whatever the sequence of subjects and collisions', () => {
    // Short prefixes over a tiny alphabet before one of two endings longer than the hashed bytes:
    // same-length subjects that differ only at the start share a hash, and must not share a string.
    const endings = [[...Buffer.from('.venue.BTC-USD')], [...Buffer.from('.venue.ETH-USD')]]
    const subject = fc.oneof(
      fc.tuple(fc.array(fc.constantFrom(0x61, 0x62, 0xe9), { minLength: 1, maxLength: 3 }), fc.constantFrom(...endings))
        .map(([prefix, ending]) => [...prefix, ...ending]),
      fc.array(fc.constantFrom(0x61, 0x2e), { minLength: 1, maxLength: MAX_INTERNED_BYTES + 12 })
    )
    fc.assert(fc.property(fc.array(subject, { minLength: 1, maxLength: 300 }), fc.nat({ max: 5 }), (subjects, pad) => {
      const interner = new SubjectInterner()
      for (const bytes of subjects) {
        const buf = Buffer.from([...Array<number>(pad).fill(0x20), ...bytes, 0x20])
        expect(interner.intern(buf, words(buf), pad, pad + bytes.length)).toBe(Buffer.from(bytes).toString('latin1'))
      }
      expect(interner.hits + interner.misses).toBe(subjects.filter((s) => s.length <= MAX_INTERNED_BYTES).length)
    }))
  })
})

describe('the interner\'s slot as a key for what is known of a subject', () => {
  const intern = (interner: SubjectInterner, text: string): [string, number] => {
    const buf = Buffer.from(text, 'latin1')
    const subject = interner.intern(buf, words(buf), 0, buf.length)
    return [subject, interner.lastSlot]
  }

  it('names the same slot for the same subject, a slot below INTERNER_SLOTS, and -1 for one too long to keep', () => {
    const interner = new SubjectInterner()
    const [, slot] = intern(interner, 'trade.bench.S1')
    expect(slot).toBeGreaterThanOrEqual(0)
    expect(slot).toBeLessThan(INTERNER_SLOTS)
    intern(interner, 'trade.bench.S2')
    expect(intern(interner, 'trade.bench.S1')[1]).toBe(slot)
    expect(intern(interner, 'x'.repeat(MAX_INTERNED_BYTES + 1))[1]).toBe(-1)
  })

  it('gives the router\'s facts for the subject asked about, even when another subject took its slot over', () => {
    const interner = new SubjectInterner()
    const router = new Router(resolveOptions({ port: 0, history: [] }), { now: () => 0, schedule: () => {} })
    // Same length and the same last 12 bytes: the same hash, so the same slot.
    const [quote, quoteKey] = intern(interner, 'a.venue.BTC-USD')
    const [other, otherKey] = intern(interner, 'b.venue.BTC-USD')
    expect(otherKey).toBe(quoteKey)
    const byMap = router.subjectFacts(quote)
    expect(router.subjectFacts(quote, quoteKey)).toBe(byMap)
    expect(router.subjectFacts(quote, quoteKey)).toBe(byMap)
    const otherFacts = router.subjectFacts(other, otherKey)
    expect(otherFacts.subject).toBe(other)
    expect(router.subjectFacts(quote, quoteKey)).toBe(byMap)
    expect(router.subjectFacts(other, otherKey)).toBe(otherFacts)
    expect(router.subjectFacts('trade.x', -1).subject).toBe('trade.x')
    router.closeAll()
  })
})
