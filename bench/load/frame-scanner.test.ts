import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameScanner } from './frame-scanner.ts'

const STREAM = 'INFO {"x":1}\r\nMSG a.b 1 5\r\nhello\r\nPING\r\nHMSG q.x 22 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n+OK\r\nPONG\r\nMSG a 1 _INBOX.1 0\r\n\r\nPING\r\n'
const MESSAGES = [
  { subject: 'a.b', headers: '', payload: 'hello' },
  { subject: 'q.x', headers: 'NATS/1.0\r\nA: b\r\n\r\n', payload: 'hello' },
  { subject: 'a', headers: '', payload: '' }
]

/** Feeds STREAM cut at `cuts`; what the scanner counted and the messages it handed over. */
function scan (cuts: readonly number[]): { counts: object, messages: object[], info: string | null } {
  const messages: object[] = []
  const s = new FrameScanner((buf, s0, s1, h0, p0, end) => {
    messages.push({ subject: buf.toString('latin1', s0, s1), headers: buf.toString('latin1', h0, p0), payload: buf.toString('latin1', p0, end) })
  })
  const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), STREAM.length]
  let pings = 0
  for (let i = 1; i < points.length; i++) pings += s.feed(Buffer.from(STREAM.slice(points[i - 1], points[i])))
  return { counts: { messages: s.messages, pings, pongs: s.pongs }, messages, info: s.info }
}

describe('FrameScanner', () => {
  it('counts messages, PINGs and PONGs in a stream, payloads skipped', () => {
    const c = new FrameScanner()
    expect(c.feed(Buffer.from(STREAM))).toBe(2)
    expect({ messages: c.messages, pings: c.pings, pongs: c.pongs }).toEqual({ messages: 3, pings: 2, pongs: 1 })
    expect(c.info).toBe('{"x":1}')
  })

  it('hands each message over as its subject, headers and payload', () => {
    expect(scan([]).messages).toEqual(MESSAGES)
  })

  it('counts and hands over the same however the stream is cut', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }), (cuts) => {
      expect(scan(cuts)).toEqual({ counts: { messages: 3, pings: 2, pongs: 1 }, messages: MESSAGES, info: '{"x":1}' })
    }))
  })

  it('does not take a payload that looks like PING for one', () => {
    const c = new FrameScanner()
    c.feed(Buffer.from('MSG a 1 6\r\nPING\r\n\r\n'))
    expect({ messages: c.messages, pings: c.pings }).toEqual({ messages: 1, pings: 0 })
  })
})
