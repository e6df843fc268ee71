import { describe, expect, it } from 'vitest'
import type { Transport } from './client-host.ts'
import { ClientWriter } from './client-writer.ts'
import type { ConflationCause } from './flow-control.ts'
import type { OutboxSubscription } from './outbox.ts'
import { SubjectClass } from './subject-classes.ts'
import { RoutedMessage, encodeSid } from './wire.ts'

const sub: OutboxSubscription = { uid: 1, sid: '1', sidBytes: encodeSid('1') }
const payload = Buffer.alloc(1000, 120)

function message (subjectClass: SubjectClass): RoutedMessage {
  const subject = subjectClass === SubjectClass.LastValue ? 'quote.x' : 'trade.x'
  return new RoutedMessage(subject, undefined, subjectClass, payload, 0, 0, undefined)
}

interface Harness {
  writer: ClientWriter
  causes: Array<ConflationCause | null>
  written: () => number
  clock: { ms: number }
}

/** A writer over a socket that takes every write (its buffer stays empty) and a clock the test moves. */
function writer (): Harness {
  let bytes = 0
  const transport = {
    kind: 'tcp',
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    bufferedBytes: 0,
    write (chunk: Buffer, done?: () => void) { bytes += chunk.length; done?.() },
    close () {},
    pauseReading () {},
    resumeReading () {}
  } as unknown as Transport
  const clock = { ms: 0 }
  const causes: Array<ConflationCause | null> = []
  const w = new ClientWriter(
    transport,
    { maxInFlightBytes: 256 * 1024, maxAckWaitMs: 100, highWaterBytes: 256 * 1024, now: () => clock.ms },
    { maxPendingEventBytes: 8 * 1024 * 1024 },
    { dirty () {}, conflating (cause) { causes.push(cause) }, failed () {} }
  )
  return { writer: w, causes, written: () => bytes, clock }
}

/** `turns` flush turns of `perTurn` deliveries of one class, with no PONG read between them. */
function turns (w: ClientWriter, subjectClass: SubjectClass, count: number, perTurn: number): void {
  for (let t = 0; t < count; t++) {
    for (let i = 0; i < perTurn; i++) w.outbox.deliver(sub, message(subjectClass))
    w.flush()
  }
}

describe('ClientWriter: which writes the flow window holds back', () => {
  it('writes events past the window while no PONG is read: holding them would only delay them', () => {
    const { writer: w, causes, written } = writer()
    turns(w, SubjectClass.Event, 40, 20) // 40 turns of 20 KB: far past the 64 KiB first window
    expect(causes).toEqual([])
    expect(w.outbox.conflating).toBe(false)
    expect(written()).toBeGreaterThan(800 * 1000)
    expect(w.inFlightBytes).toBe(written())
  })

  it('writes events while a PING is older than maxAckWaitMs', () => {
    const { writer: w, causes, clock } = writer()
    turns(w, SubjectClass.Event, 1, 20) // a probe PING goes out with this write
    clock.ms = 500
    turns(w, SubjectClass.Event, 1, 20)
    expect(causes).toEqual([])
  })

  it('conflates once a write past the window holds a last value, and holds what follows, events too, in order', () => {
    const { writer: w, causes, written } = writer()
    turns(w, SubjectClass.Event, 10, 20)
    turns(w, SubjectClass.LastValue, 1, 1)
    expect(causes).toEqual(['window'])
    const before = written()
    turns(w, SubjectClass.Event, 1, 5)
    turns(w, SubjectClass.LastValue, 2, 1) // the second supersedes the first
    expect(written()).toBe(before)
    expect(w.outbox.pendingMessages).toBe(6)
    expect(w.conflated).toBe(1)
  })

  it('conflates a last value whose PING is older than maxAckWaitMs, before writing it', () => {
    const { writer: w, causes, clock, written } = writer()
    turns(w, SubjectClass.LastValue, 1, 20)
    const before = written()
    clock.ms = 500
    turns(w, SubjectClass.LastValue, 1, 1)
    expect(causes).toEqual(['ack_wait'])
    expect(written()).toBe(before)
  })
})
