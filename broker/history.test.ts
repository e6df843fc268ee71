import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HistoryStream, MSG_ID_KEPT_BYTES, msgIdKey, PREALLOCATED_MESSAGE_BYTES, type HistoryConfig, type HistoryNote } from './history.ts'

const CONFIG: HistoryConfig = {
  name: 'trades',
  subjects: ['trade.>'],
  maxAgeMs: 60_000,
  maxBytes: 10_000,
  maxMsgsPerSubject: 0,
  duplicateWindowMs: 2_000,
  maxMsgIds: 1_000
}
const body = (text: string): Buffer => Buffer.from(text)

describe('HistoryStream', () => {
  it('numbers messages from 1 and finds them by sequence, by subject and by time', () => {
    const h = new HistoryStream(CONFIG, 0)
    expect(h.append('trade.a', body('1'), 0, undefined, 10)).toBe(1)
    h.append('trade.b', body('2'), 0, undefined, 20)
    h.append('trade.a', body('3'), 0, undefined, 30)
    expect(h.get(2)?.data.toString()).toBe('2')
    expect(h.nextFrom(2, 'trade.a')?.seq).toBe(3)
    expect(h.lastOn('trade.a')?.data.toString()).toBe('3')
    expect(h.lastPerSubject(null).map((m) => m.seq)).toEqual([2, 3])
    expect(h.seqAtOrAfter(15)).toBe(2)
    expect(h.seqAtOrAfter(31)).toBe(4)
    expect(h.countFrom(1, 'trade.a')).toBe(2)
    expect(h.captures('trade.x.y')).toBe(true)
    expect(h.captures('quote.x')).toBe(false)
    expect([h.firstSeq, h.lastSeq, h.messages, h.subjectCount]).toEqual([1, 3, 3, 2])
  })

  it('keeps the same messages with the caller\'s notes of its subjects as without, as subjects empty and come back', () => {
    const subjects = ['trade.a', 'trade.b', 'trade.c.d']
    const op = fc.record({
      subject: fc.constantFrom(...subjects),
      size: fc.integer({ min: 0, max: 4_000 }),
      advanceMs: fc.integer({ min: 0, max: 40_000 })
    })
    fc.assert(fc.property(fc.array(op, { maxLength: 150 }), fc.integer({ min: 0, max: 2 }), (ops, perSubject) => {
      const config = { ...CONFIG, maxMsgsPerSubject: perSubject }
      const plain = new HistoryStream(config, 0)
      const noted = new HistoryStream(config, 0)
      const notes = new Map<string, HistoryNote>(subjects.map((s) => [s, { historyState: null }]))
      let now = 0
      for (const o of ops) {
        now += o.advanceMs
        const data = Buffer.alloc(o.size, o.subject.length)
        expect(noted.append(o.subject, data, 0, undefined, now, notes.get(o.subject)))
          .toBe(plain.append(o.subject, data, 0, undefined, now))
        expect(noted.subjectCount).toBe(plain.subjectCount)
        for (const subject of subjects) {
          expect(noted.lastOn(subject)?.seq).toBe(plain.lastOn(subject)?.seq)
          expect(noted.countFrom(1, subject)).toBe(plain.countFrom(1, subject))
          expect(noted.nextFrom(1, subject)?.seq).toBe(plain.nextFrom(1, subject)?.seq)
        }
      }
    }))
  })

  it('gives messages stored in the same millisecond distinct, increasing nanosecond times', () => {
    const h = new HistoryStream(CONFIG, 0)
    h.append('trade.a', body('1'), 0, undefined, 1000)
    h.append('trade.a', body('2'), 0, undefined, 1000)
    expect([h.get(1)?.timeNs, h.get(2)?.timeNs]).toEqual(['1000000000', '1000000001'])
  })

  it('stores a message id once within the duplicate window, and again after it', () => {
    const h = new HistoryStream(CONFIG, 0)
    expect(h.append('trade.a', body('x'), 0, 'id-1', 0)).toBe(1)
    expect(h.append('trade.a', body('x'), 0, 'id-1', 1_000)).toBe(-1)
    expect(h.duplicates).toBe(1)
    expect(h.append('trade.a', body('x'), 0, 'id-1', 3_000)).toBe(2)
  })

  it('remembers a long message id by its length and digest: found again, told from another, kept short', () => {
    const h = new HistoryStream(CONFIG, 0)
    const long = 'x'.repeat(256 * 1024)
    const other = `${'x'.repeat(256 * 1024 - 1)}y`
    expect(h.append('trade.a', body('1'), 0, long, 0)).toBe(1)
    expect(h.append('trade.a', body('1'), 0, long, 10)).toBe(-1)
    expect(h.append('trade.a', body('2'), 0, other, 20)).toBe(2)
    expect(h.seenId(other, 30)).toBe(2)
    expect(msgIdKey(long)).toMatch(/^#262144:[A-Za-z0-9_-]{43}$/)
    const short = 'x'.repeat(MSG_ID_KEPT_BYTES)
    expect(msgIdKey(short)).toBe(short)
    expect(h.append('trade.a', body('3'), 0, short, 40)).toBe(3)
    expect(h.append('trade.a', body('3'), 0, short, 50)).toBe(-3)
  })

  it('removes what has aged out even when the message appended is a refused duplicate', () => {
    const h = new HistoryStream(CONFIG, 0)
    h.append('trade.a', body('old'), 0, undefined, 0)
    h.append('trade.a', body('x'), 0, 'id-1', 59_999)
    expect(h.append('trade.a', body('x'), 0, 'id-1', 60_001)).toBe(-2)
    expect([h.firstSeq, h.messages, h.removed.age]).toEqual([2, 1, 1])
  })

  it('leaves a hole where a subject passed its own limit', () => {
    const h = new HistoryStream({ ...CONFIG, maxMsgsPerSubject: 2 }, 0)
    for (const s of ['trade.a', 'trade.b', 'trade.a', 'trade.a']) h.append(s, body('v'), 0, undefined, 0)
    expect(h.get(1)).toBeUndefined()
    expect([h.firstSeq, h.messages, h.deleted, h.removed.perSubject]).toEqual([2, 3, 0, 1])
    h.append('trade.b', body('v'), 0, undefined, 0)
    h.append('trade.b', body('v'), 0, undefined, 0)
    expect(h.get(2)).toBeUndefined()
    expect([h.firstSeq, h.deleted]).toEqual([3, 0])
  })

  it('keeps every limit whatever is appended, and tells each removal', () => {
    const op = fc.record({
      subject: fc.constantFrom('trade.a', 'trade.b', 'trade.c.d'),
      size: fc.integer({ min: 0, max: 3_000 }),
      id: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
      advanceMs: fc.integer({ min: 0, max: 30_000 })
    })
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 3 }), (ops, perSubject) => {
      const h = new HistoryStream({ ...CONFIG, maxMsgsPerSubject: perSubject }, 0)
      let removedSeen = 0
      h.onRemove = () => { removedSeen++ }
      let now = 0
      let lastSeq = 0
      for (const o of ops) {
        now += o.advanceMs
        const seq = h.append(o.subject, Buffer.alloc(o.size), 0, o.id, now)
        if (seq > 0) {
          expect(seq).toBe(lastSeq + 1)
          lastSeq = seq
        } else {
          expect(-seq).toBeLessThanOrEqual(lastSeq) // a duplicate: the sequence it was stored as
        }
        const held: number[] = []
        for (let s = 1; s <= h.lastSeq; s++) if (h.get(s) !== undefined) held.push(s)
        expect(h.messages).toBe(held.length)
        expect(h.bytes).toBeLessThanOrEqual(Math.max(CONFIG.maxBytes, (h.get(h.lastSeq)?.bytes ?? 0)))
        if (held.length > 0) {
          expect(h.firstSeq).toBe(held[0])
          expect(h.deleted).toBe(held[held.length - 1]! - held[0]! + 1 - held.length)
        }
        for (const s of held) expect(now - h.get(s)!.timeMs).toBeLessThanOrEqual(CONFIG.maxAgeMs)
        if (perSubject > 0) {
          for (const subject of ['trade.a', 'trade.b', 'trade.c.d']) {
            expect(held.filter((s) => h.get(s)!.subject === subject).length).toBeLessThanOrEqual(perSubject)
          }
        }
      }
      expect(removedSeen).toBe(h.removed.age + h.removed.bytes + h.removed.perSubject)
    }))
  })

  it('gives back every byte it keeps, through slab edges, slabs of their own and holes closed by copying, within twice the bytes kept', () => {
    const SLAB = 64
    const op = fc.record({
      subject: fc.constantFrom('trade.a', 'trade.b', 'trade.c'),
      // Up to a quarter slab shares a slab; above it a message gets one of its own.
      size: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 17, max: 100 })),
      advanceMs: fc.integer({ min: 0, max: 20_000 })
    })
    const limits = fc.record({
      perSubject: fc.integer({ min: 0, max: 4 }),
      maxBytes: fc.integer({ min: 50, max: 2_000 })
    })
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), limits, (ops, { perSubject, maxBytes }) => {
      const h = new HistoryStream({ ...CONFIG, maxMsgsPerSubject: perSubject, maxBytes }, 0, SLAB)
      const sent = new Map<number, { subject: string, data: Buffer }>()
      let now = 0
      ops.forEach((o, k) => {
        now += o.advanceMs
        // Distinct bytes per message, read from a larger buffer as the router hands over a view.
        const data = Buffer.alloc(o.size, k % 251)
        const view = Buffer.concat([Buffer.from('xx'), data, Buffer.from('yy')]).subarray(2, 2 + o.size)
        const seq = h.append(o.subject, view, 0, undefined, now)
        sent.set(seq, { subject: o.subject, data })
        let dataBytes = 0
        for (let s = 1; s <= h.lastSeq; s++) {
          const m = h.get(s)
          if (m === undefined) continue
          expect({ subject: m.subject, data: m.data }).toEqual(sent.get(s))
          dataBytes += m.data.length
        }
        expect(h.heldBytes).toBeLessThanOrEqual(Math.max(2 * dataBytes, dataBytes + 4 * SLAB))
      })
    }))
  })

  it('serves a full stream from the slabs it let go: no slab allocated once it is full, every message intact', () => {
    const SLAB = 64
    const h = new HistoryStream({ ...CONFIG, maxBytes: 1_000 }, 0, SLAB)
    const append = (k: number): void => { h.append('trade.a', Buffer.alloc(10, k % 251), 0, undefined, 0) }
    for (let k = 0; k < 500; k++) append(k) // full long since: one removal per append
    const allocated = h.slabsAllocated
    for (let k = 500; k < 5_000; k++) append(k)
    expect(h.slabsAllocated).toBe(allocated)
    // What it holds is what was appended last, byte for byte (a slab served again held none of it).
    for (let s = h.firstSeq; s <= h.lastSeq; s++) expect(h.get(s)?.data).toEqual(Buffer.alloc(10, (s - 1) % 251))
  })

  it('fills from preallocated slabs: none taken while it fills, every message intact, the same bound', () => {
    const SLAB = 64
    const h = new HistoryStream({ ...CONFIG, maxBytes: 1_000 }, 0, SLAB)
    expect(h.preallocate()).toBe(16) // 1,000 bytes in slabs of 64
    expect(h.slabsAllocated).toBe(16)
    const append = (k: number): void => { h.append('trade.a', Buffer.alloc(10, k % 251), 0, undefined, 0) }
    for (let k = 0; k < 5_000; k++) {
      append(k)
      expect(h.heldBytes).toBeLessThanOrEqual(Math.max(2 * 1_000, 1_000 + 4 * SLAB))
    }
    // Filling and then one removal per append: never a slab beyond those taken at the start.
    expect(h.slabsAllocated).toBe(16)
    for (let s = h.firstSeq; s <= h.lastSeq; s++) expect(h.get(s)?.data).toEqual(Buffer.alloc(10, (s - 1) % 251))
    // A second call takes nothing more: the slabs held and spare already make up the 16.
    expect(h.preallocate()).toBe(16)
    expect(h.slabsAllocated).toBe(16)
  })

  it('fills from preallocated blocks of columns: none added while messages of 128 B or more fill it and then leave', () => {
    const maxBytes = 2 * 1024 * 1024
    const data = Buffer.alloc(200, 7) // with its subject, 207 B a message: about 10,000 held, three blocks
    const fill = (h: HistoryStream): void => {
      for (let k = 0; k < 60_000; k++) h.append(`trade.s${k % 10}`, data, 0, undefined, 0)
    }
    const preallocated = new HistoryStream({ ...CONFIG, maxBytes }, 0)
    preallocated.preallocate()
    const taken = preallocated.blocksAllocated
    expect(taken).toBe(Math.ceil(maxBytes / PREALLOCATED_MESSAGE_BYTES / 4096) + 1)
    fill(preallocated)
    expect(preallocated.removed.bytes).toBeGreaterThan(40_000) // full, and long past it
    expect(preallocated.blocksAllocated).toBe(taken)
    expect(preallocated.get(preallocated.lastSeq)?.data).toEqual(data)
    // Without it the blocks come as it fills.
    const growing = new HistoryStream({ ...CONFIG, maxBytes }, 0)
    fill(growing)
    expect(growing.blocksAllocated).toBeGreaterThan(1)
  })

  it('keeps every message and limit across its blocks of columns as they are added and dropped', () => {
    // Tens of thousands of messages: the columns come in blocks of 4,096, added as the stream
    // grows and dropped once every message in them left, and subject chains run across blocks.
    const shape = fc.record({
      subjects: fc.integer({ min: 1, max: 40 }),
      perSubject: fc.integer({ min: 0, max: 3_000 }),
      maxBytes: fc.integer({ min: 20_000, max: 400_000 }),
      messages: fc.integer({ min: 9_000, max: 30_000 }),
      // Every so often time jumps past the age limit, and the stream empties.
      ageJumpEvery: fc.integer({ min: 2_000, max: 40_000 }),
      swingShift: fc.integer({ min: 10, max: 13 })
    })
    fc.assert(fc.property(shape, (o) => {
      const config = { ...CONFIG, maxAgeMs: 1_000, maxMsgsPerSubject: o.perSubject, maxBytes: o.maxBytes }
      const h = new HistoryStream(config, 0)
      const subjectOf = (k: number): string => `trade.s${(k * 7919) % o.subjects}`
      const check = (now: number): void => {
        const perSubject = new Map<string, number>()
        let held = 0
        let bytes = 0
        for (let s = 1; s <= h.lastSeq; s++) {
          const m = h.get(s)
          if (m === undefined) continue
          const k = s - 1 // every append here is stored: sequence k + 1
          expect(m.subject).toBe(subjectOf(k))
          expect(m.data.readUInt32BE(0)).toBe(k)
          expect(now - m.timeMs).toBeLessThanOrEqual(1_000)
          perSubject.set(m.subject, (perSubject.get(m.subject) ?? 0) + 1)
          held++
          bytes += m.bytes
        }
        expect([h.messages, h.bytes]).toEqual([held, bytes])
        expect(h.bytes).toBeLessThanOrEqual(o.maxBytes)
        if (o.perSubject > 0) for (const n of perSubject.values()) expect(n).toBeLessThanOrEqual(o.perSubject)
        for (const [subject, n] of perSubject) {
          expect(h.lastOn(subject)?.subject).toBe(subject)
          expect(h.countFrom(1, subject)).toBe(n)
        }
        expect(h.firstSeq).toBe(h.firstMessage?.seq ?? h.lastSeq + 1)
      }
      let now = 0
      for (let k = 0; k < o.messages; k++) {
        now += k % o.ageJumpEvery === o.ageJumpEvery - 1 ? 5_000 : k % 3 === 0 ? 1 : 0
        // Sizes swing between small and large every few thousand messages: the number of messages
        // the byte limit lets in grows and shrinks, so blocks are added while older ones still hold some.
        const data = Buffer.alloc(4 + (k % 13) + ((k >>> o.swingShift) % 2 === 0 ? 0 : 48))
        data.writeUInt32BE(k, 0)
        expect(h.append(subjectOf(k), data, 0, undefined, now)).toBe(k + 1)
        if (k % 4_999 === 0) check(now)
      }
      check(now)
    }), { numRuns: 8 })
  })

  it('grows into new blocks after dropping old ones without writing over a message it keeps', () => {
    // Large messages first: a steady stream under the byte limit, whose blocks are dropped as its
    // head passes them; then small ones, so that it holds several times as many messages and
    // adds blocks while the oldest block kept still holds some.
    const h = new HistoryStream({ ...CONFIG, maxAgeMs: 0, maxBytes: 100_000 }, 0)
    const sizes = [...Array(20_000).fill(60), ...Array(12_000).fill(4)] as number[]
    sizes.forEach((size, k) => {
      const data = Buffer.alloc(size)
      data.writeUInt32BE(k, 0)
      h.append('trade.x', data, 0, undefined, 0)
    })
    expect(h.messages).toBeGreaterThan(4_096)
    for (let s = h.firstSeq; s <= h.lastSeq; s++) expect(h.get(s)?.data.readUInt32BE(0)).toBe(s - 1)
  })

  it('closes holes that per-subject removals leave in its slabs by copying what is kept', () => {
    const SLAB = 64
    const h = new HistoryStream({ ...CONFIG, maxMsgsPerSubject: 1, maxBytes: 1_000_000 }, 0, SLAB)
    // One quiet subject keeps a message in each slab while the busy one's leave behind it.
    for (let k = 0; k < 400; k++) h.append(k % 16 === 0 ? `trade.quiet${k}` : 'trade.busy', Buffer.alloc(8, k), 0, undefined, 0)
    expect(h.compactions).toBeGreaterThan(0)
    expect(h.heldBytes).toBeLessThanOrEqual(Math.max(2 * 8 * h.messages, 8 * h.messages + 4 * SLAB))
    expect(h.lastOn('trade.quiet384')?.data).toEqual(Buffer.alloc(8, 384 % 256))
    expect(h.lastOn('trade.busy')?.data).toEqual(Buffer.alloc(8, 399 % 256))
  })
})
