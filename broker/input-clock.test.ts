import { describe, expect, it } from 'vitest'
import type { Transport } from './client-host.ts'
import { resolveOptions } from './options.ts'
import { Router } from './router.ts'

class SilentTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  write (): void {}
  get bufferedBytes (): number { return 0 }
  close (): void {}
  pauseReading (): void {}
  resumeReading (): void {}
}

/** A clock that moves on by 1 ms at every read, and counts the reads. */
function steppingClock (): { now: () => number, reads: number } {
  const clock = {
    reads: 0,
    now: (): number => 1_000 + clock.reads++
  }
  return clock
}

function pub (subject: string, payload: string): string {
  return `PUB ${subject} ${payload.length}\r\n${payload}\r\n`
}

describe('the input clock', () => {
  it('stamps every message of one read with one clock reading, and reads it again for the next read', () => {
    const clock = steppingClock()
    const router = new Router(resolveOptions({ port: 0, history: [] }), { now: clock.now, schedule: () => {} })
    const publisher = router.accept(new SilentTransport(), () => 'INFO {}\r\n')
    if (publisher === null) throw new Error('refused')
    publisher.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))

    const before = clock.reads
    publisher.receive(Buffer.from(pub('quote.a', '1') + pub('quote.b', '2') + pub('quote.c', '3')))
    const first = ['quote.a', 'quote.b', 'quote.c'].map((s) => router.lastValues.get(s)?.publishedAtMs)
    expect(clock.reads - before).toBe(1)
    expect(first).toEqual([1_000 + before, 1_000 + before, 1_000 + before])

    publisher.receive(Buffer.from(pub('quote.a', '4')))
    expect(router.lastValues.get('quote.a')?.publishedAtMs).toBe(1_000 + before + 1)
  })

  it('reads the clock for a message routed outside a read (a link, a timer)', () => {
    const clock = steppingClock()
    const router = new Router(resolveOptions({ port: 0, history: [] }), { now: clock.now, schedule: () => {} })
    const facts = router.subjectFacts('quote.d')
    const readsBefore = clock.reads
    router.publish(null, facts, undefined, Buffer.from('5'), 0)
    router.publish(null, facts, undefined, Buffer.from('6'), 0)
    expect(clock.reads - readsBefore).toBe(2)
    expect(router.lastValues.get('quote.d')?.publishedAtMs).toBe(1_000 + readsBefore + 1)
  })

  it('lets an outer caller keep the clock it took: an inner beginInput takes nothing', () => {
    const clock = steppingClock()
    const router = new Router(resolveOptions({ port: 0, history: [] }), { now: clock.now, schedule: () => {} })
    expect(router.beginInput()).toBe(true)
    expect(router.beginInput()).toBe(false)
    const taken = clock.reads
    router.publish(null, router.subjectFacts('quote.e'), undefined, Buffer.from('7'), 0)
    expect(clock.reads).toBe(taken)
    expect(router.lastValues.get('quote.e')?.publishedAtMs).toBe(1_000 + taken - 1)
    router.endInput()
    router.publish(null, router.subjectFacts('quote.e'), undefined, Buffer.from('8'), 0)
    expect(clock.reads).toBe(taken + 1)
  })
})
