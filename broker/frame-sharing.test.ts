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
  /** Writes that were a view of the frame arena's slab (WriteBuffer.take), not a copy. */
  views = 0
  /** Where the last view lay: the slab's memory and the offset in it. */
  viewAt: [ArrayBufferLike, number] | null = null
  write (chunk: Buffer): void {
    if (chunk.buffer === SHARED_FRAMES.reserve(0).buffer) {
      this.views++
      this.viewAt = [chunk.buffer, chunk.byteOffset]
    }
    this.chunks.push(Buffer.from(chunk))
  }
  get bufferedBytes (): number { return 0 }
  close (): void {}
  pauseReading (): void {}
  resumeReading (): void {}
  get text (): string { return Buffer.concat(this.chunks).toString('latin1') }
}

/**
 * Publishes two messages to `subscribers` connections that all subscribe with sid 1, as the
 * official clients do, or each with a sid of its own (`distinctSids`).
 */
interface FanOut {
  texts: string[]
  arenaBytes: number
  /** Writes that were views of the arena, and the distinct places those views began. */
  views: number
  viewsAt: Set<string>
}

function fanOut (subscribers: number, distinctSids = false): FanOut {
  const turns: Array<() => void> = []
  const router = new Router(resolveOptions({ port: 0, history: [] }), { schedule: (run) => { turns.push(run) } })
  const drain = (): void => { while (turns.length > 0) (turns.shift() as () => void)() }
  const sinks = Array.from({ length: subscribers }, () => new CapturingTransport())
  sinks.forEach((sink, i) => {
    router.accept(sink, () => '')?.receive(Buffer.from(`CONNECT {"verbose":false,"pedantic":false}\r\nSUB s.> ${distinctSids ? i + 1 : 1}\r\n`))
  })
  const publisher = router.accept(new CapturingTransport(), () => '')
  publisher?.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
  drain()
  for (const sink of sinks) sink.chunks.length = 0
  const before = SHARED_FRAMES.offset
  publisher?.receive(Buffer.from(`PUB s.a 5\r\nhello\r\nPUB s.b r.1 2\r\nhi\r\n${['c', 'd', 'e'].map((t) => `PUB s.${t} ${BIG.length}\r\n${BIG}\r\n`).join('')}`))
  const arenaBytes = SHARED_FRAMES.offset - before
  drain()
  const ids = new Map<ArrayBufferLike, number>()
  const viewsAt = new Set(sinks.map((s) => s.viewAt === null ? 'none' : `${ids.get(s.viewAt[0]) ?? ids.set(s.viewAt[0], ids.size).size - 1}:${s.viewAt[1]}`))
  return { texts: sinks.map((s) => s.text), arenaBytes, views: sinks.reduce((n, s) => n + s.views, 0), viewsAt }
}

/**
 * A body of which three make a turn's frames an eighth of the arena's slab and more (a turn
 * written as a view), and more than a quarter of the flow window a connection starts with: the
 * turn ends with the window's PING (flow-control.ts wantsProbe). Each under the largest body a
 * frame is built for (wire.ts FRAME_MAX_BYTES).
 */
const BIG = 'x'.repeat(12_000)
const frames = (sid: number): string => `MSG s.a ${sid} 5\r\nhello\r\nMSG s.b ${sid} r.1 2\r\nhi\r\n` +
  ['c', 'd', 'e'].map((t) => `MSG s.${t} ${sid} ${BIG.length}\r\n${BIG}\r\n`).join('') + 'PING\r\n'

describe('shared frames', () => {
  it('are built once for subscribers that share a sid, and written as one view of the arena by each', () => {
    for (const n of [2, FRAME_SHARE_MIN_FANOUT, 5]) {
      const shared = fanOut(n)
      expect(shared.texts).toEqual(Array(n).fill(frames(1)))
      expect(shared.views).toBe(n)
      expect(shared.viewsAt.size).toBe(1) // the frames and one PING, in memory once, written by all
    }
  })

  it('with a sid each, are built only for a fan-out large enough to gain from one, and every subscriber gets its bytes either way', () => {
    const small = fanOut(FRAME_SHARE_MIN_FANOUT - 1, true)
    expect(small.arenaBytes).toBe(0)
    expect(small.texts).toEqual(Array.from({ length: FRAME_SHARE_MIN_FANOUT - 1 }, (_, i) => frames(i + 1)))
    const large = fanOut(FRAME_SHARE_MIN_FANOUT, true)
    expect(large.arenaBytes).toBe(0) // no two deliveries in a row ask for one sid
    expect(large.texts).toEqual(Array.from({ length: FRAME_SHARE_MIN_FANOUT }, (_, i) => frames(i + 1)))
    expect(small.views + large.views).toBe(0)
  })
})
