import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeTimedPayload, readTimedPayload, timedPayloadText, type TimedFields } from './protocol.ts'

const ns = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n })

describe('the timed payload', () => {
  it('reads back what was written, as bigints and as numbers, at any size and offset', () => {
    const size = fc.integer({ min: 0, max: 300 })
    fc.assert(fc.property(fc.nat(), ns, ns, size, fc.nat({ max: 16 }), (seq, intended, sent, size, offset) => {
      const payload = Buffer.from(timedPayloadText(seq, intended, sent, size))
      expect(payload.byteLength).toBe(Math.max(size, `${seq} ${intended} ${sent} `.length))
      expect(decodeTimedPayload(payload)).toEqual({ seq, intendedNs: intended, sentNs: sent })
      const framed = Buffer.concat([Buffer.alloc(offset, 'y'), payload, Buffer.from('\r\nMSG')])
      const into: TimedFields = { seq: -1, intendedNs: -1, sentNs: -1 }
      expect(readTimedPayload(framed, offset, offset + payload.byteLength, into)).toBe(true)
      expect(into).toEqual({ seq, intendedNs: Number(intended), sentNs: Number(sent) })
    }))
  })

  it('refuses a payload that is not one', () => {
    const into: TimedFields = { seq: -1, intendedNs: -1, sentNs: -1 }
    for (const text of ['', 'hello', '1 2', '1 2 3', '1 x 3 ', '1  2 3 ']) {
      expect(readTimedPayload(Buffer.from(text), 0, text.length, into), text).toBe(false)
    }
  })
})
