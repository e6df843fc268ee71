import { describe, expect, it } from 'vitest'
import { SubjectClass } from './subject-classes.ts'
import { RoutedMessage, encodeNoResponders, parseHeaders, readIntegerHeader } from './wire.ts'

describe('wire encoding', () => {
  it('reads an integer header as large as a microsecond epoch, case-insensitively', () => {
    const block = Buffer.from('NATS/1.0\r\nTickfan-Seq: 1795668738784733\r\nOther: x\r\n\r\n')
    expect(readIntegerHeader(block, block.length, 'Tickfan-Seq')).toBe(1795668738784733)
    expect(readIntegerHeader(block, block.length, 'tickfan-seq')).toBe(1795668738784733)
  })

  it('ignores a missing, empty or unsafe integer header', () => {
    const read = (text: string): number | undefined => readIntegerHeader(Buffer.from(text), text.length, 'Tickfan-Seq')
    expect(read('NATS/1.0\r\nOther: 1\r\n\r\n')).toBeUndefined()
    expect(read('NATS/1.0\r\nTickfan-Seq: \r\n\r\n')).toBeUndefined()
    expect(read('NATS/1.0\r\nTickfan-Seq: 99999999999999999999\r\n\r\n')).toBeUndefined()
  })

  it('encodes MSG and HMSG pieces once per message and strips headers for clients without them', () => {
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    const msg = new RoutedMessage('s.x', 'r.1', SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined)
    expect(Buffer.concat([msg.head(true), Buffer.from('7'), msg.tail(true), msg.bodyFor(true)]).toString()).toBe(`HMSG s.x 7 r.1 ${hdr.length} ${hdr.length + 4}\r\n${hdr}body\r\n`)
    expect(Buffer.concat([msg.head(false), Buffer.from('7'), msg.tail(false), msg.bodyFor(false)]).toString()).toBe('MSG s.x 7 r.1 4\r\nbody\r\n')
    expect(msg.head(true)).toBe(msg.head(true))
  })

  it("encodes nats-server's no-responders status", () => {
    expect(encodeNoResponders('_INBOX.a.1', Buffer.from('3')).toString()).toBe('HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n')
  })

  it('parses header blocks with status and repeated keys', () => {
    expect(parseHeaders('NATS/1.0 503\r\nA: 1\r\nA: 2\r\n\r\n')).toEqual({ status: '503', headers: { A: ['1', '2'] } })
  })
})
