import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Transport } from './client-host.ts'
import { ClientWriter } from './client-writer.ts'
import { SubjectClass } from './subject-classes.ts'
import { encodeSid, RoutedMessage } from './wire.ts'
import { decimalDigits, FrameArena, SHARED_FRAMES, SHARED_WRITE_BUFFERS, WriteBuffer, WriteBufferPool, writeDecimal, writeLatin1 } from './write-buffer.ts'

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

type Pending = { chunk: Buffer, copy: Buffer, written: (() => void) | undefined }
interface PendingWriter { writer: ClientWriter, pending: Pending[], done: Buffer[], complete: () => void }

/**
 * A writer whose transport keeps each write pending, with a copy of its bytes, until the test
 * completes it (oldest first); its socket never holds anything back (bufferedBytes 0). `done`:
 * the bytes of the completed writes, in order.
 */
function writerWithPendingWrites (): PendingWriter {
  const pending: Pending[] = []
  const done: Buffer[] = []
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
    done.push(p.copy)
    p.written?.()
  }
  return { writer, pending, done, complete }
}

describe('ClientWriter and the write-buffer pool', () => {
  const line = fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.alloc(n, n % 251))
  const step = fc.oneof(line.map((l) => ({ kind: 'queue' as const, line: l })), fc.constant({ kind: 'flush' as const }), fc.constant({ kind: 'complete' as const }))

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

describe('WriteBuffer views of shared frames', () => {
  type Step = { kind: 'frame' | 'own' | 'ping', to: number, bytes: number } | { kind: 'take', to: number, mayShare: boolean }
  const PING = Buffer.from('PING\r\n')
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('frame' as const), to: fc.integer({ min: 0, max: 2 }), bytes: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ kind: fc.constant('own' as const), to: fc.integer({ min: 0, max: 1 }), bytes: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('ping' as const), to: fc.integer({ min: 0, max: 1 }), bytes: fc.constant(0) }),
    fc.record({ kind: fc.constant('take' as const), to: fc.integer({ min: 0, max: 1 }), mayShare: fc.boolean() })
  )

  it('gives two connections sharing frames and PINGs exactly their bytes, as views or copies, never changed after', () => {
    let views = 0
    const slabSizes = fc.integer({ min: 256, max: 4096 })
    fc.assert(fc.property(fc.array(step, { maxLength: 80 }), slabSizes, (steps, slabBytes) => {
      const arena = new FrameArena(slabBytes)
      const buffers = [new WriteBuffer(), new WriteBuffer()]
      const expected: Buffer[][] = [[], []]
      const taken: Array<{ chunk: Buffer, copy: Buffer }> = []
      let fill = 0
      const slabs = new Set<ArrayBufferLike>()
      const take = (i: number, mayShare: boolean): void => {
        const wb = buffers[i] as WriteBuffer
        const chunk = wb.take(mayShare)
        const want = Buffer.concat(expected[i] as Buffer[])
        expected[i] = []
        if (want.length === 0) { expect(chunk).toBeNull(); return }
        expect(chunk?.equals(want)).toBe(true)
        if (chunk === null) return
        if (slabs.has(chunk.buffer)) views++
        taken.push({ chunk, copy: Buffer.from(chunk) })
      }
      for (const s of steps) {
        if (s.kind === 'take') { take(s.to, s.mayShare); continue }
        const targets = s.kind === 'frame' && s.to === 2 ? [0, 1] : [s.to]
        if (s.kind === 'frame') {
          const data = Buffer.alloc(s.bytes, ++fill % 251)
          const slab = arena.reserve(data.length)
          slabs.add(slab.buffer)
          const start = arena.offset
          slab.set(data, start)
          arena.advance(data.length)
          for (const t of targets) {
            (buffers[t] as WriteBuffer).shared(slab, start, start + data.length)
            ;(expected[t] as Buffer[]).push(data)
          }
        } else if (s.kind === 'own') {
          (buffers[s.to] as WriteBuffer).bytes(Buffer.alloc(s.bytes, 7))
          ;(expected[s.to] as Buffer[]).push(Buffer.alloc(s.bytes, 7))
        } else {
          const wb = buffers[s.to] as WriteBuffer
          if (!wb.sharedLine(PING, arena)) wb.bytes(PING)
          ;(expected[s.to] as Buffer[]).push(PING)
        }
      }
      take(0, true)
      take(1, true)
      // The arena is never written where a taken view lies: every chunk is as it was taken.
      for (const t of taken) expect(t.chunk.equals(t.copy)).toBe(true)
    }))
    expect(views).toBeGreaterThan(0) // the property ran with views handed out
  })

  it('hands out a view of the slab for a turn of consecutive shared frames, with a PING both connections share', () => {
    const arena = new FrameArena(1024)
    const a = new WriteBuffer()
    const b = new WriteBuffer()
    for (let i = 0; i < 4; i++) {
      const slab = arena.reserve(40)
      const start = arena.offset
      slab.fill(65 + i, start, start + 40)
      arena.advance(40)
      a.shared(slab, start, start + 40)
      b.shared(slab, start, start + 40)
    }
    const PING = Buffer.from('PING\r\n')
    expect(a.sharedLine(PING, arena)).toBe(true) // written into the arena after the frames
    const offset = arena.offset
    expect(b.sharedLine(PING, arena)).toBe(true) // found there
    expect(arena.offset).toBe(offset)
    const first = a.take(true) as Buffer
    const second = b.take(true) as Buffer
    expect(first.toString('latin1')).toBe('A'.repeat(40) + 'B'.repeat(40) + 'C'.repeat(40) + 'D'.repeat(40) + 'PING\r\n')
    expect(first.buffer).toBe(second.buffer) // one slab, copied nowhere
    expect(first.byteOffset).toBe(second.byteOffset)
    expect(second.equals(first)).toBe(true)

    // Not a view: the socket holds something back, or own bytes are in the turn, or the turn is
    // under an eighth of its slab.
    const queue = (wb: WriteBuffer, bytes: number): void => {
      const slab = arena.reserve(bytes)
      const start = arena.offset
      arena.advance(bytes)
      wb.shared(slab, start, start + bytes)
    }
    queue(a, 200)
    expect((a.take(false) as Buffer).buffer).not.toBe(arena.reserve(0).buffer)
    queue(a, 200)
    a.bytes(Buffer.from('+OK\r\n'))
    expect((a.take(true) as Buffer).buffer).not.toBe(arena.reserve(0).buffer)
    queue(a, 100)
    expect((a.take(true) as Buffer).buffer).not.toBe(arena.reserve(0).buffer)
    queue(a, 128)
    expect((a.take(true) as Buffer).buffer).toBe(arena.reserve(0).buffer)
    // A PING after own bytes, or after frames the arena has moved past, is the connection's own.
    a.bytes(Buffer.from('PONG\r\n'))
    expect(a.sharedLine(PING, arena)).toBe(false)
    a.take()
    queue(b, 100)
    queue(a, 100)
    expect(b.sharedLine(PING, arena)).toBe(false)
    expect(a.sharedLine(PING, arena)).toBe(true)

    // Frames in a slab the arena has left: their end may be where the new slab's next frame goes.
    const small = new FrameArena(100)
    const old = small.reserve(50)
    small.advance(50)
    const c = new WriteBuffer()
    c.shared(old, 0, 50)
    const fresh = small.reserve(60) // 50 + 60 > 100: a new slab
    expect(fresh).not.toBe(old)
    small.advance(50)
    expect(c.sharedLine(PING, small)).toBe(false)
  })
})

describe('ClientWriter and the frame arena', () => {
  type Step = { kind: 'publish', bytes: number } | { kind: 'flush' | 'complete', to: number }
  const step: fc.Arbitrary<Step> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('publish' as const), bytes: fc.integer({ min: 1, max: 16_000 }) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('flush' as const), to: fc.integer({ min: 0, max: 1 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('complete' as const), to: fc.integer({ min: 0, max: 1 }) }), weight: 1 }
  )
  const PINGS = /PING\r\n/g

  it('never writes a slab over while a socket still writes a view of it, and serves slabs again once none does', () => {
    const reusedBefore = SHARED_FRAMES.reused
    fc.assert(fc.property(fc.array(step, { minLength: 40, maxLength: 120 }), (steps) => {
      const sid = encodeSid('1')
      // Nothing ever held back in the socket: every turn that can be a view is one.
      const sinks = [0, 1].map((uid) => ({ ...writerWithPendingWrites(), sub: { uid, sid: '1', sidBytes: sid } }))
      let expected = ''
      let n = 0
      for (const s of steps) {
        const sink = sinks[s.kind === 'publish' ? 0 : s.to] as (typeof sinks)[number]
        if (s.kind === 'publish') {
          const body = String.fromCharCode(97 + (n++ % 26)).repeat(s.bytes)
          const msg = new RoutedMessage('s.x', undefined, SubjectClass.Plain, Buffer.from(body), 0, 0, undefined)
          msg.shareFirst = true // as the router marks a fan-out to one sid
          for (const each of sinks) each.writer.outbox.deliver(each.sub, msg)
          msg.dropFrame()
          expected += `MSG s.x 1 ${s.bytes}\r\n${body}\r\n`
        } else if (s.kind === 'flush') {
          sink.writer.flush()
          sink.writer.acknowledged() // the client answers every flow-control PING: the writer keeps flowing
        } else {
          sink.complete()
        }
      }
      for (const sink of sinks) {
        sink.writer.flush()
        while (sink.pending.length > 0) sink.complete()
        expect(Buffer.concat(sink.done).toString('latin1').replace(PINGS, '')).toBe(expected)
      }
    }), { numRuns: 60 })
    expect(SHARED_FRAMES.reused).toBeGreaterThan(reusedBefore) // the property ran with slabs served again
  })
})
