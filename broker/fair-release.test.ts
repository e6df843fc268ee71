import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FairRelease, type DeliveryLink } from './fair-release.ts'

class Link implements DeliveryLink {
  delivered = 0
  gone = false
}

/** A seeded generator, so each run draws the same sequence. */
function mulberry32 (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('FairRelease', () => {
  it('releases at once with nobody else to be fair to, in publish order', () => {
    const fair = new FairRelease<string, string>(5)
    const out: string[] = []
    fair.sent('a', [], 0)
    fair.sent('b', [], 0)
    fair.arrived('frame-a')
    expect(fair.release(0, (o, f) => out.push(`${o}:${f}`))).toBe(false)
    fair.arrived('frame-b')
    fair.release(0, (o, f) => out.push(`${o}:${f}`))
    expect(out).toEqual(['a:frame-a', 'b:frame-b'])
  })

  it('runs afterEarlier work only once every message sent before it is delivered, and the frames after it find their messages', () => {
    const fair = new FairRelease<string, string>(5)
    const out: string[] = []
    const deliver = (o: string, f: string): void => { out.push(`${o}:${f}`) }
    fair.sent('a', [], 0)
    fair.afterEarlier(() => out.push('run'), 0)
    fair.sent('b', [], 0)
    fair.release(0, deliver)
    expect(out).toEqual([]) // a's frame has not come back: the work waits behind it
    fair.arrived('frame-a')
    fair.release(0, deliver)
    expect(out).toEqual(['a:frame-a', 'run'])
    fair.afterEarlier(() => out.push('run again'), 0) // nothing before it waits
    fair.sent('c', [], 0)
    fair.arrived('frame-b') // past both pieces of work, to b and c in turn
    fair.arrived('frame-c')
    fair.release(0, deliver)
    expect(out).toEqual(['a:frame-a', 'run', 'b:frame-b', 'run again', 'c:frame-c'])
    fair.sent('d', [], 0)
    fair.afterEarlier(() => out.push('run at clear'), 0)
    fair.clear() // the loopback is gone: d never comes back, the work runs anyway
    expect(out.at(-1)).toBe('run at clear')
  })

  it('gives every frame to its own message and runs every piece of work in its place, whatever the interleaving, past the list\'s compaction', () => {
    // Work queued after the last frame came back was released ahead of the frame pointer; when
    // the list was compacted past 1,024 entries that pointer went negative, the next frame was
    // dropped and every later one went to the wrong message (a PING held after it: no PONG).
    const OPS = ['sent', 'sent', 'sent', 'work', 'back', 'back', 'back', 'release', 'release', 'release'] as const
    const op = fc.integer({ min: 0, max: OPS.length - 1 }).map((i) => OPS[i] as typeof OPS[number])
    const steps = fc.array(op, { minLength: 2000, maxLength: 6000 })
    // The client's pattern that found it: two publishes, an UNSUB, a publish, a PING; back; released.
    const clientRound = ['sent', 'sent', 'work', 'sent', 'work', 'back', 'back', 'back', 'release'] as const
    const clientRounds = Array.from({ length: 400 }, () => clientRound).flat()
    fc.assert(fc.property(steps, (ops) => {
      const fair = new FairRelease<number, number>(5)
      const out: string[] = []
      const expected: string[] = []
      let sent = 0
      let back = 0
      const deliver = (origin: number, frame: number): void => { out.push(`m${origin}:f${frame}`) }
      for (const step of ops) {
        if (step === 'sent') { fair.sent(sent, [], 0); expected.push(`m${sent}:f${sent}`); sent++ }
        if (step === 'work') { const at = expected.length; fair.afterEarlier(() => out.push(`w${at}`), 0); expected.push(`w${at}`) }
        if (step === 'back' && back < sent) fair.arrived(back++)
        if (step === 'release') fair.release(0, deliver)
      }
      while (back < sent) fair.arrived(back++)
      fair.release(0, deliver)
      expect(out).toEqual(expected)
    }), { numRuns: 100, seed: 7, examples: [[clientRounds]] })
  })

  it('holds a message drawn to go second until the peer says it delivered it, and what follows behind it', () => {
    const draws = [0.9, 0.0, 0.0] // place 1 (0.9 >= 1/2), then place 0 for the next
    const fair = new FairRelease<string, string>(5, () => draws.shift() ?? 0)
    const peer = new Link()
    const out: string[] = []
    fair.sent('first', [{ link: peer, index: 1 }], 0)
    fair.sent('second', [{ link: peer, index: 2 }], 0)
    fair.arrived('1')
    fair.arrived('2')
    expect(fair.release(1, (_o, f) => out.push(f))).toBe(true) // waiting for the peer
    expect(out).toEqual([])
    expect(fair.deadline()).toBe(5)
    peer.delivered = 1
    expect(fair.release(2, (_o, f) => out.push(f))).toBe(false)
    expect(out).toEqual(['1', '2'])
    expect(fair.waited).toBe(1)
  })

  it('stops waiting for a peer that does not answer within maxHoldMs, and counts it', () => {
    const fair = new FairRelease<string, string>(5, () => 0.99)
    const out: string[] = []
    fair.sent('x', [{ link: new Link(), index: 1 }], 0)
    fair.arrived('1')
    fair.release(4, (_o, f) => out.push(f))
    expect(out).toEqual([])
    fair.release(5, (_o, f) => out.push(f))
    expect(out).toEqual(['1'])
    expect(fair.timedOut).toBe(1)
  })

  it('does not wait for a peer that is gone', () => {
    const fair = new FairRelease<string, string>(5, () => 0.99)
    const peer = new Link()
    peer.gone = true
    const out: string[] = []
    fair.sent('x', [{ link: peer, index: 1 }], 0)
    fair.arrived('1')
    fair.release(0, (_o, f) => out.push(f))
    expect(out).toEqual(['1'])
  })

  for (const q of [1, 0.67, 0.5]) {
    it(`steers the draw so this worker is first in 1/(k+1) of messages when place 0 wins ${q * 100}% of races (k = 1 and 3)`, () => {
      for (const k of [1, 3]) {
        const random = mulberry32(7 + k)
        const fair = new FairRelease<null, number>(5, random)
        const links = Array.from({ length: k }, () => new Link())
        let first = 0
        let counted = 0
        const n = 20_000
        for (let i = 1; i <= n; i++) {
          fair.sent(null, links.map((link) => ({ link, index: i })), i)
          fair.arrived(i)
          let placeZero = true
          fair.release(i, () => {})
          if (fair.size > 0) {
            placeZero = false // held for a peer: the peers deliver, then this worker
            for (const l of links) l.delivered = i
            fair.release(i, () => {})
          } else if (random() >= q) {
            for (const l of links) l.delivered = i // a woken peer flushed first anyway
          }
          const won = placeZero && !links.some((l) => l.delivered >= i)
          fair.judge()
          for (const l of links) l.delivered = i
          if (i > n / 4) { counted++; if (won) first++ }
        }
        expect(first / counted).toBeGreaterThan(1 / (k + 1) - 0.03)
        expect(first / counted).toBeLessThan(1 / (k + 1) + 0.03)
        expect(fair.bias).toBeCloseTo(1 / q, 0)
      }
    })
  }
})
