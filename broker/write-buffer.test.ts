import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decimalDigits, FrameArena, WriteBuffer, writeDecimal, writeLatin1 } from './write-buffer.ts'

type Op = { kind: 'bytes' | 'shared' | 'reserved', data: Uint8Array } | { kind: 'latin1', text: string } | { kind: 'take' }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((data) => ({ kind: 'bytes' as const, data })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((data) => ({ kind: 'shared' as const, data })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((data) => ({ kind: 'shared' as const, data })),
  fc.uint8Array({ maxLength: 300 }).map((data) => ({ kind: 'reserved' as const, data })),
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 120 }).map((text) => ({ kind: 'latin1' as const, text })),
  fc.constant({ kind: 'take' as const })
)

describe('WriteBuffer', () => {
  it('takes exactly the bytes queued since the last take (own bytes and shared frames), in order, whatever their sizes', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 300, max: 2000 }), (ops, slabBytes) => {
      const wb = new WriteBuffer()
      // Small slabs: frames often land in a new one, and what was queued before is flattened.
      const arena = new FrameArena(slabBytes)
      let expected: Buffer[] = []
      const taken: Buffer[] = []
      const check = (): void => {
        const chunk = wb.take()
        const want = Buffer.concat(expected)
        if (want.length === 0) expect(chunk).toBeNull()
        else expect(chunk?.equals(want)).toBe(true)
        if (chunk !== null) taken.push(chunk)
        expected = []
      }
      for (const o of ops) {
        if (o.kind === 'take') { check(); continue }
        if (o.kind === 'latin1') { // a subject written into a line, in place
          writeLatin1(wb.reserve(o.text.length), wb.offset, o.text)
          wb.advance(o.text.length)
          expected.push(Buffer.from(o.text, 'latin1'))
        } else {
          if (o.kind === 'bytes') wb.bytes(Buffer.from(o.data))
          else if (o.kind === 'shared') { // a frame in the arena, often right after the one before
            const slab = arena.reserve(o.data.length)
            const start = arena.offset
            slab.set(o.data, start)
            arena.advance(o.data.length)
            wb.shared(slab, start, start + o.data.length)
          }
          else { // written in place, as a delivery's line and body are
            wb.reserve(o.data.length).set(o.data, wb.offset)
            wb.advance(o.data.length)
          }
          expected.push(Buffer.from(o.data))
        }
        expect(wb.length).toBe(Buffer.concat(expected).length)
      }
      const before = taken.map((b) => Buffer.from(b))
      check()
      // A taken buffer belongs to the socket: later writes never change it.
      for (let i = 0; i < before.length; i++) expect((taken[i] as Buffer).equals(before[i] as Buffer)).toBe(true)
    }))
  })

  it('writes through reserve and advance, and clear drops what was written', () => {
    const wb = new WriteBuffer()
    wb.bytes(Buffer.from('MSG '))
    const buf = wb.reserve(3)
    buf.write('abc', wb.offset, 'latin1')
    wb.advance(3)
    expect(wb.take()?.toString('latin1')).toBe('MSG abc')
    wb.bytes(Buffer.from('gone'))
    wb.clear()
    expect(wb.length).toBe(0)
    expect(wb.take()).toBeNull()
  })
})

describe('writeDecimal', () => {
  it('writes what String(n) says, and decimalDigits counts it', () => {
    const edges = fc.constantFrom(0, 9, 10, 99, 100, 999_999, 1_000_000, Number.MAX_SAFE_INTEGER)
    const n = fc.oneof(fc.nat(), fc.maxSafeNat(), edges)
    fc.assert(fc.property(n, (n) => {
      const buf = Buffer.alloc(20)
      const end = writeDecimal(buf, 3, n)
      expect(buf.toString('latin1', 3, end)).toBe(String(n))
      expect(decimalDigits(n)).toBe(String(n).length)
    }))
  })
})
