import { describe, expect, it } from 'vitest'
import { SubjectClass } from './subject-classes.ts'
import { RoutedMessage, encodeNoResponders, encodeSid, parseHeaders, readIntegerHeader, withoutHeader } from './wire.ts'

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

  it('does not take a header whose name only begins like the one asked for, or a value line', () => {
    const text = 'NATS/1.0\r\nTickfan-Sequel: 5\r\nX: Tickfan-Seq: 6\r\n\r\n'
    expect(readIntegerHeader(Buffer.from(text), text.length, 'Tickfan-Seq')).toBeUndefined()
  })

  it('takes every line of a header out, whatever its case, and leaves the rest and the payload', () => {
    const hdr = 'NATS/1.0\r\ntickfan-conflated: 9\r\nA: b\r\nTICKFAN-CONFLATED: 7\r\n\r\n'
    const out = withoutHeader(Buffer.from(`${hdr}body`), hdr.length, 'Tickfan-Conflated')
    expect(out?.data.toString()).toBe('NATS/1.0\r\nA: b\r\n\r\nbody')
    expect(out?.headerBytes).toBe('NATS/1.0\r\nA: b\r\n\r\n'.length)
    const clean = 'NATS/1.0\r\nA: b\r\n\r\n'
    expect(withoutHeader(Buffer.from(`${clean}Tickfan-Conflated: 1`), clean.length, 'Tickfan-Conflated')).toBeNull()
  })

  it('keeps a large payload the parser assembled as the body without a copy, and copies anything else', () => {
    const size = 100 * 1024
    const assembled = Buffer.allocUnsafe(size + 2).fill(120)
    assembled[size] = 13
    assembled[size + 1] = 10
    const adopted = new RoutedMessage('big', undefined, SubjectClass.Plain, assembled.subarray(0, size), 0, 0, undefined)
    expect(adopted.body.buffer).toBe(assembled.buffer)
    expect(adopted.body.length).toBe(size + 2)
    const small = Buffer.from('hi\r\n')
    const copied = new RoutedMessage('s', undefined, SubjectClass.Plain, small.subarray(0, 2), 0, 0, undefined)
    small[0] = 0x41 // the body is a copy: changing the source changes nothing
    expect(copied.body.toString()).toBe('hi\r\n')
  })

  it('builds one whole frame for a sid two deliveries share, equal to the pieces, and never for a large body', () => {
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    const msg = new RoutedMessage('s.x', 'r.1', SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined)
    const one = { sid: '1', sidBytes: encodeSid('1') }
    const alsoOne = { sid: '1', sidBytes: encodeSid('1') }
    const two = { sid: '2', sidBytes: encodeSid('2') }
    expect(alsoOne.sidBytes).toBe(one.sidBytes) // shared: compared by identity
    for (const headers of [true, false]) {
      msg.dropFrame()
      expect(msg.frame(one, headers)).toBeNull() // the first asker uses the pieces
      const pieces = Buffer.concat([Buffer.from(msg.line('1', headers), 'latin1'), msg.bodyFor(headers)])
      expect(msg.frame(alsoOne, headers)?.equals(pieces)).toBe(true)
      expect(msg.frame(alsoOne, headers)).toBe(msg.frame(one, headers)) // built once
    }
    expect(msg.frame(two, false)).toBeNull() // another sid starts over
    const big = new RoutedMessage('s.big', undefined, SubjectClass.Plain, Buffer.alloc(20_000), 0, 0, undefined)
    big.frame(one, false)
    expect(big.frame(one, false)).toBeNull()
  })

  it('writes MSG and HMSG lines (their parts made once per message) and strips headers for clients without them', () => {
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    const msg = new RoutedMessage('s.x', 'r.1', SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined)
    expect(msg.line('7', true) + msg.bodyFor(true).toString()).toBe(`HMSG s.x 7 r.1 ${hdr.length} ${hdr.length + 4}\r\n${hdr}body\r\n`)
    expect(msg.line('7', false) + msg.bodyFor(false).toString()).toBe('MSG s.x 7 r.1 4\r\nbody\r\n')
  })

  it("encodes nats-server's no-responders status", () => {
    expect(encodeNoResponders('_INBOX.a.1', Buffer.from('3')).toString()).toBe('HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n')
  })

  it('parses header blocks with status and repeated keys', () => {
    expect(parseHeaders('NATS/1.0 503\r\nA: 1\r\nA: 2\r\n\r\n')).toEqual({ status: '503', headers: { A: ['1', '2'] } })
  })
})
