import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameCounter } from './frame-counter.ts'

const STREAM = 'INFO {"x":1}\r\nMSG a.b 1 5\r\nhello\r\nPING\r\nHMSG q.x 22 12 17\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n+OK\r\nPONG\r\nMSG a 1 _INBOX.1 0\r\n\r\nPING\r\n'

describe('FrameCounter', () => {
  it('counts messages, PINGs and PONGs in a stream, payloads skipped', () => {
    const c = new FrameCounter()
    expect(c.feed(Buffer.from(STREAM))).toBe(2)
    expect({ messages: c.messages, pings: c.pings, pongs: c.pongs }).toEqual({ messages: 3, pings: 2, pongs: 1 })
  })

  it('counts the same however the stream is cut', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }), (cuts) => {
      const c = new FrameCounter()
      const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), STREAM.length]
      let pings = 0
      for (let i = 1; i < points.length; i++) pings += c.feed(Buffer.from(STREAM.slice(points[i - 1], points[i])))
      expect({ messages: c.messages, pings, pongs: c.pongs }).toEqual({ messages: 3, pings: 2, pongs: 1 })
    }))
  })

  it('does not take a payload that looks like PING for one', () => {
    const c = new FrameCounter()
    c.feed(Buffer.from('MSG a 1 6\r\nPING\r\n\r\n'))
    expect({ messages: c.messages, pings: c.pings }).toEqual({ messages: 1, pings: 0 })
  })
})
