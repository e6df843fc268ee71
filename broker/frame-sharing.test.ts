import { describe, expect, it } from 'vitest'
import type { Transport } from './client-host.ts'
import { resolveOptions } from './options.ts'
import { Router } from './router.ts'
import { FRAME_SHARE_MIN_FANOUT } from './wire.ts'
import { SHARED_FRAMES } from './write-buffer.ts'

class CapturingTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  readonly chunks: Buffer[] = []
  write (chunk: Buffer): void { this.chunks.push(Buffer.from(chunk)) }
  get bufferedBytes (): number { return 0 }
  close (): void {}
  pauseReading (): void {}
  resumeReading (): void {}
  get text (): string { return Buffer.concat(this.chunks).toString('latin1') }
}

/** Publishes two messages to `subscribers` connections that all subscribe with sid 1, as the official clients do. */
function fanOut (subscribers: number): { texts: string[], arenaBytes: number } {
  const turns: Array<() => void> = []
  const router = new Router(resolveOptions({ port: 0, history: [] }), { schedule: (run) => { turns.push(run) } })
  const drain = (): void => { while (turns.length > 0) (turns.shift() as () => void)() }
  const sinks = Array.from({ length: subscribers }, () => new CapturingTransport())
  for (const sink of sinks) {
    router.accept(sink, () => '')?.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\nSUB s.> 1\r\n'))
  }
  const publisher = router.accept(new CapturingTransport(), () => '')
  publisher?.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
  drain()
  for (const sink of sinks) sink.chunks.length = 0
  const before = SHARED_FRAMES.offset
  publisher?.receive(Buffer.from('PUB s.a 5\r\nhello\r\nPUB s.b r.1 2\r\nhi\r\n'))
  const arenaBytes = SHARED_FRAMES.offset - before
  drain()
  return { texts: sinks.map((s) => s.text), arenaBytes }
}

describe('shared frames', () => {
  it('are built only for a fan-out large enough to gain from one, and every subscriber gets the same bytes either way', () => {
    const expected = 'MSG s.a 1 5\r\nhello\r\nMSG s.b 1 r.1 2\r\nhi\r\n'
    const small = fanOut(FRAME_SHARE_MIN_FANOUT - 1)
    expect(small.arenaBytes).toBe(0)
    expect(small.texts).toEqual(Array(FRAME_SHARE_MIN_FANOUT - 1).fill(expected))
    const large = fanOut(FRAME_SHARE_MIN_FANOUT)
    expect(large.arenaBytes).toBe(expected.length)
    expect(large.texts).toEqual(Array(FRAME_SHARE_MIN_FANOUT).fill(expected))
  })
})
