import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_INTERNED_BYTES, SubjectInterner } from './subject-intern.ts'

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
