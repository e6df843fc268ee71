import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Transport } from './client-host.ts'
import { ClientWriter } from './client-writer.ts'
import { decimalDigits, FrameArena, SHARED_WRITE_BUFFERS, WriteBuffer, WriteBufferPool, writeDecimal, writeLatin1 } from './write-buffer.ts'

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

describe('WriteBufferPool', () => {
  it('hands out power-of-two buffers of at least the size asked, and takes back only its own, up to its bound', () => {
    const pool = new WriteBufferPool(64 * 1024)
    const small = pool.acquire(100) // below the pooled sizes: Node's own pool
    expect(small.length).toBe(100)
    pool.release(small)
    const a = pool.acquire(5000)
    expect(a.length).toBe(8192)
    expect(pool.acquire(8192).length).toBe(8192)
    expect(pool.acquire(8193).length).toBe(16384)
    pool.release(a.subarray(0, 10)) // a view of it, as a write of part of it
    const again = pool.acquire(6000)
    expect(again.buffer).toBe(a.buffer)
    expect(pool.reused).toBe(1)
    pool.release(Buffer.alloc(8192)) // not the pool's: never handed out
    expect(pool.acquire(8192).buffer).not.toBe(again.buffer)
    const big = [pool.acquire(40_000), pool.acquire(40_000)] // 64 KiB each: only one fits the bound
    for (const b of big) pool.release(b)
    const after = pool.acquire(40_000)
    expect(big.map((b) => b.buffer)).toContain(after.buffer)
    expect(big.map((b) => b.buffer)).not.toContain(pool.acquire(40_000).buffer)
  })
})

describe('ClientWriter and the write-buffer pool', () => {
  type Pending = { chunk: Buffer, copy: Buffer, written: (() => void) | undefined }
  const line = fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.alloc(n, n % 251))
  const step = fc.oneof(line.map((l) => ({ kind: 'queue' as const, line: l })), fc.constant({ kind: 'flush' as const }), fc.constant({ kind: 'complete' as const }))

  /** A writer whose transport keeps each write pending, with a copy of its bytes, until the test completes it. */
  function writerWithPendingWrites (): { writer: ClientWriter, pending: Pending[], complete: () => void } {
    const pending: Pending[] = []
    const transport: Transport = {
      kind: 'tcp',
      remoteAddress: '127.0.0.1',
      remotePort: 0,
      write: (chunk, written) => { pending.push({ chunk, copy: Buffer.from(chunk), written }) },
      bufferedBytes: 0,
      close: () => {},
      pauseReading: () => {},
      resumeReading: () => {}
    }
    const limits = { now: () => 0, maxInFlightBytes: 2 ** 40, maxAckWaitMs: 2 ** 40, highWaterBytes: 2 ** 40 }
    const events = { dirty: () => {}, conflating: () => {}, failed: () => {} }
    const writer = new ClientWriter(transport, limits, { maxPendingEventBytes: 2 ** 40 }, events)
    const complete = (): void => {
      const p = pending.shift()
      if (p === undefined) return
      expect(p.chunk.equals(p.copy)).toBe(true) // untouched while in flight
      p.written?.()
    }
    return { writer, pending, complete }
  }

  it('never gives a chunk back to the pool, or writes into it, before the transport called back for it', () => {
    const reusedBefore = SHARED_WRITE_BUFFERS.reused
    fc.assert(fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
      const { writer, pending, complete } = writerWithPendingWrites()
      for (const s of steps) {
        if (s.kind === 'queue') writer.control(s.line)
        else if (s.kind === 'flush') writer.flush()
        else complete()
      }
      writer.flush()
      while (pending.length > 0) complete()
    }))
    expect(SHARED_WRITE_BUFFERS.reused).toBeGreaterThan(reusedBefore) // the property ran with reuse
  })

  it('forgets the oldest of many writes still in flight, and gives none of them back early when their callbacks come', () => {
    const { writer, pending, complete } = writerWithPendingWrites()
    for (let i = 0; i < 200; i++) {
      writer.control(Buffer.alloc(5000 + i, i))
      writer.flush()
      writer.acknowledged() // the client answers every flow-control PING: the writer keeps flowing
    }
    expect(pending.length).toBe(200)
    for (let i = 0; i < 100; i++) complete()
    for (let i = 0; i < 50; i++) { // new writes reuse only what was given back
      writer.control(Buffer.alloc(6000, 7))
      writer.flush()
      writer.acknowledged()
    }
    while (pending.length > 0) complete()
  })
})
