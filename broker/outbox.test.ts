import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HELD_LAST_VALUE_OVERHEAD_BYTES, Outbox, type OutboxSubscription } from './outbox.ts'
import { SubjectClass } from './subject-classes.ts'
import { decodeFrames, headerValue } from './test-support/frames.ts'
import { CONFLATED_HEADER } from '../lib/headers.ts'
import { RoutedMessage, encodeSid } from './wire.ts'

const subA: OutboxSubscription = { uid: 1, sid: '1', sidBytes: encodeSid('1') }
const subB: OutboxSubscription = { uid: 2, sid: '2', sidBytes: encodeSid('2') }

function quote (subject: string, payload: string, at = 0): RoutedMessage {
  return new RoutedMessage(subject, undefined, SubjectClass.LastValue, Buffer.from(payload), 0, at, undefined)
}
function trade (subject: string, payload: string): RoutedMessage {
  return new RoutedMessage(subject, undefined, SubjectClass.Event, Buffer.from(payload), 0, 0, undefined)
}

function drain (outbox: Outbox): string {
  outbox.stopConflating()
  return outbox.take()?.toString('latin1') ?? ''
}

describe('outbox', () => {
  it('sends everything in order while the socket drains', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1000 })
    outbox.deliver(subA, quote('quote.x', '1'))
    outbox.deliver(subA, quote('quote.x', '2'))
    outbox.control(Buffer.from('PONG\r\n'))
    expect(outbox.take()?.toString()).toBe('MSG quote.x 1 1\r\n1\r\nMSG quote.x 1 1\r\n2\r\nPONG\r\n')
    expect(outbox.take()).toBeNull()
    expect(outbox.messagesOut).toBe(2)
  })

  it('writes, in order, deliveries it writes itself and frames it shares with other connections, whatever their mix in a turn', () => {
    // Each message fans out to the connections whose bit is set, in order; from the second
    // connection with the same sid on, a delivery shares the message's frame.
    const masks = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 })
    fc.assert(fc.property(masks, fc.boolean(), (fanouts, headers) => {
      const outboxes = [0, 1, 2].map(() => new Outbox({ headers, maxPendingEventBytes: 1 << 20 }))
      const subs = [0, 1, 2].map((i) => ({ uid: 10 + i, sid: '1', sidBytes: encodeSid('1') }))
      const expected: string[][] = [[], [], []]
      fanouts.forEach((mask, m) => {
        const hdr = m % 3 === 0 ? 'NATS/1.0\r\nA: b\r\n\r\n' : ''
        const reply = m % 4 === 0 ? 'r.1' : undefined
        const msg = new RoutedMessage(`s.${m % 5}`, reply, SubjectClass.Plain, Buffer.from(`${hdr}p${m}`), hdr.length, 0, undefined)
        for (let c = 0; c < 3; c++) {
          if ((mask & (1 << c)) === 0) continue
          ;(outboxes[c] as Outbox).deliver(subs[c] as OutboxSubscription, msg)
          ;(expected[c] as string[]).push(`s.${m % 5}:p${m}`)
        }
        msg.dropFrame()
      })
      for (let c = 0; c < 3; c++) {
        const got = decodeFrames((outboxes[c] as Outbox).take() ?? '').map((f) => `${f.subject}:${f.payload}`)
        expect(got).toEqual(expected[c])
      }
    }))
  })

  it('keeps only the newest quote per subscription and subject while conflating, and says how many were skipped', () => {
    const outbox = new Outbox({ headers: true, maxPendingEventBytes: 1000 })
    outbox.startConflating(0)
    for (let i = 1; i <= 5; i++) outbox.deliver(subA, quote('quote.x', `x${i}`))
    outbox.deliver(subB, quote('quote.x', 'b1'))
    outbox.deliver(subA, quote('quote.y', 'y1'))
    expect(outbox.conflated).toBe(4)
    const frames = decodeFrames(drain(outbox))
    expect(frames.map((f) => `${f.sid}:${f.payload}`)).toEqual(['1:x5', '2:b1', '1:y1'])
    expect(headerValue(frames[0] as never, CONFLATED_HEADER)).toBe('4')
    expect((frames[1] as { headers?: string }).headers).toBeUndefined()
  })

  it('keeps the original headers of a conflated message and adds the skipped count', () => {
    const outbox = new Outbox({ headers: true, maxPendingEventBytes: 1000 })
    const hdr = 'NATS/1.0\r\nTickfan-Seq: 7\r\n\r\n'
    const make = (p: string): RoutedMessage => new RoutedMessage('quote.x', 'r.1', SubjectClass.LastValue, Buffer.from(hdr + p), hdr.length, 0, 7)
    outbox.startConflating(0)
    outbox.deliver(subA, make('old'))
    outbox.deliver(subA, make('new'))
    const [frame] = decodeFrames(drain(outbox))
    expect(frame?.op).toBe('HMSG')
    expect(frame?.reply).toBe('r.1')
    expect(frame?.payload).toBe('new')
    expect(headerValue(frame as never, 'Tickfan-Seq')).toBe('7')
    expect(headerValue(frame as never, CONFLATED_HEADER)).toBe('1')
  })

  it('strips headers for a client that did not negotiate them', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1000 })
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    outbox.deliver(subA, new RoutedMessage('s', undefined, SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined))
    expect(outbox.take()?.toString()).toBe('MSG s 1 4\r\nbody\r\n')
  })

  it('never conflates trades, and overflows past the byte limit', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 200 })
    outbox.startConflating(0)
    const outcomes = []
    for (let i = 0; i < 10; i++) outcomes.push(outbox.deliver(subA, trade('trade.x', `t${i}`)))
    expect(outcomes.slice(0, 4).every((o) => o === 'queued')).toBe(true)
    expect(outcomes).toContain('overflow')
    expect(outbox.conflated).toBe(0)
  })

  it('holds last values of ever new subjects only up to its last-value limit, then reports values-overflow', () => {
    // Room for ten: each counted as its frame's bytes and the bookkeeping of its entry.
    const limit = 10 * (quote('quote.s0', 'x').frameBytes + HELD_LAST_VALUE_OVERHEAD_BYTES)
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1 << 20, maxPendingLastValueBytes: limit })
    outbox.startConflating(0)
    const outcomes = Array.from({ length: 12 }, (_, i) => outbox.deliver(subA, quote(`quote.s${i}`, 'x')))
    expect(outcomes.slice(0, 10).every((o) => o === 'queued')).toBe(true)
    expect(outcomes[10]).toBe('values-overflow')
    expect(outbox.pendingBytes).toBeGreaterThan(limit)
  })

  it('never reaches its last-value limit on subjects it already holds, however many updates come', () => {
    // Whatever the updates to K subjects on two subscriptions, the held values are at most one per
    // subscription and subject: within the limit when 2K frames and their bookkeeping fit.
    const frame = (subject: string): number => quote(subject, 'xx').frameBytes
    const updates = fc.array(fc.tuple(fc.integer({ min: 0, max: 19 }), fc.boolean()), { minLength: 1, maxLength: 400 })
    fc.assert(fc.property(updates, (seq) => {
      const subjects = Array.from({ length: 20 }, (_, i) => `quote.k${i}`)
      const limit = 2 * subjects.reduce((sum, s) => sum + frame(s) + HELD_LAST_VALUE_OVERHEAD_BYTES, 0)
      const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1 << 20, maxPendingLastValueBytes: limit })
      outbox.startConflating(0)
      for (const [k, onB] of seq) {
        expect(outbox.deliver(onB ? subB : subA, quote(subjects[k] as string, 'xx'))).not.toBe('values-overflow')
      }
      expect(outbox.pendingBytes).toBeLessThanOrEqual(limit)
    }))
  })

  it('writes trades held while conflating at once, in runs across chunks, and counts them as messages', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1 << 30 })
    outbox.startConflating(0)
    // The router's one reusable message, made each publish in turn: a held trade must not
    // depend on it after its delivery (no copy of it is kept, its frame is written at once).
    const msg = RoutedMessage.reusable()
    const big = 'b'.repeat(100_000) // larger than a run's 64 KiB chunk
    const payloads = Array.from({ length: 2000 }, (_, i) => i === 700 ? big : `t${i}:${'x'.repeat(i % 97)}`)
    payloads.forEach((p, i) => {
      msg.reuse(`trade.s${i % 3}`, undefined, SubjectClass.Event, Buffer.from(p), 0, 1000 + i, undefined, 1)
      expect(outbox.deliver(subA, msg)).toBe('queued')
      if (i === 1000) outbox.deliver(subB, quote('quote.x', 'q', 5000)) // a last value between two runs
    })
    expect(outbox.pendingMessages).toBe(2001)
    expect(outbox.oldestPendingAtMs()).toBe(1000) // the first trade of the first run
    const frames = decodeFrames(drain(outbox))
    expect(frames.map((f) => f.payload)).toEqual([...payloads.slice(0, 1001), 'q', ...payloads.slice(1001)])
    expect(frames.filter((f) => f.sid === '1').map((f) => f.subject)).toEqual(payloads.map((_, i) => `trade.s${i % 3}`))
    expect(outbox.messagesOut).toBe(2001)
    expect(outbox.payloadBytesOut).toBe(payloads.reduce((n, p) => n + p.length, 0) + 1)
    expect(outbox.pendingMessages).toBe(0)
  })

  it('holds single trades between quotes and PONGs in one chain of chunks, and counts each run as an entry', () => {
    // A run of its own chunk took 64 KiB per trade here: 10,000 chunks for 10,000 trades.
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1 << 30 })
    outbox.startConflating(0)
    const expected: string[] = []
    for (let i = 0; i < 10_000; i++) {
      expect(outbox.deliver(subA, trade('trade.x', `t${i}`))).toBe('queued')
      expected.push(`MSG trade.x 1 ${String(i).length + 1}\r\nt${i}\r\n`)
      if (i % 2 === 0) {
        outbox.control(Buffer.from('PONG\r\n'))
        expected.push('PONG\r\n')
      } else outbox.deliver(subB, quote(`quote.s${i}`, 'q'))
      if (i % 2 === 1) expected.push(`MSG quote.s${i} 2 1\r\nq\r\n`)
    }
    const tradeBytes = expected.filter((e) => e.startsWith('MSG trade')).reduce((n, e) => n + e.length, 0)
    const chunks = (outbox as unknown as { heldEvents: { chunkCount: number } }).heldEvents.chunkCount
    expect(chunks).toBe(Math.ceil(tradeBytes / (64 * 1024)))
    // Each run and each PONG is an entry of the held list: counted with its overhead.
    expect(outbox.heldEventBytes).toBe(tradeBytes + 10_000 * 64 + 5000 * (6 + 64))
    expect(outbox.pendingMessages).toBe(10_000 + 5000 + 5000)
    expect(drain(outbox)).toBe(expected.join(''))
    expect((outbox as unknown as { heldEvents: { chunkCount: number } }).heldEvents.chunkCount).toBe(0)
  })

  it('stays bounded under endless updates of the same subjects while conflating', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1000 })
    outbox.startConflating(0)
    for (let i = 0; i < 100_000; i++) outbox.deliver(i % 2 === 0 ? subA : subB, quote('quote.x', String(i)))
    expect(outbox.pendingMessages).toBe(2)
    expect((outbox as unknown as { held: unknown[] }).held.length).toBeLessThan(2 * 2 + 64 + 2)
    expect(decodeFrames(drain(outbox)).map((f) => f.payload)).toEqual(['99998', '99999'])
  })

  it('reports the publish time of the oldest undelivered update', () => {
    const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1000 })
    expect(outbox.oldestPendingAtMs()).toBeUndefined()
    outbox.startConflating(100)
    outbox.deliver(subA, quote('quote.x', '1', 110))
    outbox.deliver(subA, quote('quote.y', '1', 120))
    expect(outbox.oldestPendingAtMs()).toBe(110)
    outbox.deliver(subA, quote('quote.x', '2', 130)) // supersedes: x moves behind y
    expect(outbox.oldestPendingAtMs()).toBe(120)
  })

  it('delivers an order-preserving subsequence: every trade, the newest of every quote, and skipped counts that add up', () => {
    const op = fc.record({
      sub: fc.constantFrom(subA, subB),
      subject: fc.constantFrom('quote.x', 'quote.y', 'trade.x'),
      toggle: fc.nat({ max: 9 })
    })
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const outbox = new Outbox({ headers: true, maxPendingEventBytes: 1 << 30 })
      const published: string[] = []
      let out = ''
      ops.forEach((o, i) => {
        if (o.toggle === 0) {
          if (outbox.conflating) outbox.stopConflating()
          else { out += outbox.take()?.toString('latin1') ?? ''; outbox.startConflating(0) }
        }
        const payload = `p${i}`
        published.push(`${o.sub.uid}|${o.subject}|${payload}`)
        outbox.deliver(o.sub, o.subject.startsWith('trade') ? trade(o.subject, payload) : quote(o.subject, payload))
      })
      out += drain(outbox)
      const frames = decodeFrames(out)
      const delivered = frames.map((f) => `${f.sid}|${f.subject}|${f.payload}`)
      // a subsequence, in order
      let j = 0
      for (const d of delivered) {
        while (j < published.length && published[j] !== d) j++
        expect(j).toBeLessThan(published.length)
        j++
      }
      // every trade delivered
      expect(delivered.filter((d) => d.includes('trade')).length).toBe(published.filter((p) => p.includes('trade')).length)
      // the newest value of every (subscription, subject) delivered
      const newest = new Map<string, string>()
      for (const p of published) newest.set(p.split('|').slice(0, 2).join('|'), p)
      for (const p of newest.values()) expect(delivered).toContain(p)
      // skipped counts account for every quote not delivered
      const skipped = frames.reduce((n, f) => n + Number(headerValue(f, CONFLATED_HEADER) ?? 0), 0)
      expect(skipped).toBe(published.length - delivered.length)
      expect(outbox.conflated).toBe(skipped)
    }), { numRuns: 300 })
  })
})
