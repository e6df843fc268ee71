import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SubjectClass } from './subject-classes.ts'
import { RoutedMessage, encodeNoResponders, encodeSid, parseHeaders, readIntegerHeader, withoutHeader } from './wire.ts'
import { FrameArena } from './write-buffer.ts'

/** The control line `msg` writes for one delivery to `sid`, in a buffer of exactly the length it announced. */
function lineOf (msg: RoutedMessage, sid: string, headers: boolean): Buffer {
  const sidBytes = Buffer.from(sid, 'latin1')
  const line = Buffer.alloc(msg.lineLength(sidBytes.length, headers) + 1, 0xff)
  expect(msg.writeLine(line, 0, sidBytes, headers)).toBe(line.length - 1)
  expect(line[line.length - 1]).toBe(0xff) // nothing written past it
  return line.subarray(0, line.length - 1)
}

/** The body one delivery carries, as writeBody copies it. */
function bodyOf (msg: RoutedMessage, headers: boolean): Buffer {
  const body = Buffer.alloc(msg.bodyLengthFor(headers))
  msg.writeBody(body, 0, headers)
  return body
}

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
    expect(copied.keep().toString()).toBe('hi\r\n') // kept during its publish call
    small[0] = 0x41 // the kept body is a copy: changing the source changes nothing
    copied.dropFrame()
    expect(copied.body.toString()).toBe('hi\r\n')
  })

  it('copies the body only for whoever keeps it, and never reads the read buffer after its fan-out', () => {
    const input = Buffer.from('NATS/1.0\r\n\r\npayload')
    const msg = new RoutedMessage('s', undefined, SubjectClass.Plain, input, 12, 0, undefined)
    const out = Buffer.alloc(msg.bodyLengthFor(false))
    msg.writeBody(out, 0, false) // written straight from the read buffer
    expect(out.toString()).toBe('payload\r\n')
    msg.dropFrame() // the fan-out ended and nothing kept it
    input.fill(0)
    expect(() => msg.body).toThrow(/asked for after its fan-out ended/)
  })

  it('serves every publish as one reusable message, and gives whoever holds one past its publish a copy that stays', () => {
    const reusable = RoutedMessage.reusable()
    const read = Buffer.from('first')
    const msg = reusable.reuse('trade.a', 'r.1', SubjectClass.Event, read, 0, 10, undefined, 7)
    expect(msg).toBe(reusable)
    msg.subjectBytes = Buffer.from('trade.a') // as the router sets it from the subject's facts
    const held = msg.retain()
    expect(held).not.toBe(reusable)
    expect(msg.retain()).toBe(held) // one copy, shared by every holder
    msg.dropFrame()
    read.fill(0) // the read buffer is the reader's again
    reusable.reuse('trade.b', undefined, SubjectClass.Plain, Buffer.from('second'), 0, 20, undefined, 8)
    const { subject, reply, subjectClass, publishedAtMs, publisherCid } = held
    expect([subject, reply, subjectClass, held.payload().toString(), publishedAtMs, publisherCid])
      .toEqual(['trade.a', 'r.1', SubjectClass.Event, 'first', 10, 7])
    expect([reusable.subject, reusable.payload().toString()]).toEqual(['trade.b', 'second'])
    // The copy keeps its subject's bytes; the next publish starts without any (its router sets them).
    expect([held.subjectBytes?.toString(), reusable.subjectBytes]).toEqual(['trade.a', null])
    expect(reusable.retain()).not.toBe(held) // a new publish, a new copy
    const own = new RoutedMessage('s', undefined, SubjectClass.Plain, Buffer.from('x'), 0, 0, undefined)
    expect(own.retain()).toBe(own)
    const reuseOwn = (): unknown => own.reuse('s', undefined, SubjectClass.Plain, Buffer.from('y'), 0, 0, undefined, -1)
    expect(reuseOwn).toThrow(/not the router's reusable/)
  })

  it('builds one whole frame for a sid two deliveries share, equal to the pieces, and never for a large body', () => {
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    const msg = new RoutedMessage('s.x', 'r.1', SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined)
    const one = { sid: '1', sidBytes: encodeSid('1') }
    const alsoOne = { sid: '1', sidBytes: encodeSid('1') }
    const two = { sid: '2', sidBytes: encodeSid('2') }
    expect(alsoOne.sidBytes).toBe(one.sidBytes) // shared: compared by identity
    msg.keep() // as a cached message: fanned out more than once
    const arena = new FrameArena(64) // small slabs: a frame that does not fit starts a new one
    const frameOf = (m: RoutedMessage): Buffer => (m.frameSlab as Buffer).subarray(m.frameStart, m.frameEnd)
    for (const headers of [true, false]) {
      msg.dropFrame()
      expect(msg.frame(one, headers, arena)).toBe(false) // the first asker writes line and body
      const written = Buffer.concat([lineOf(msg, '1', headers), bodyOf(msg, headers)])
      expect(msg.frame(alsoOne, headers, arena)).toBe(true)
      expect(frameOf(msg).equals(written)).toBe(true)
      const at = [msg.frameSlab, msg.frameStart]
      expect(msg.frame(one, headers, arena)).toBe(true)
      expect([msg.frameSlab, msg.frameStart]).toEqual(at) // built once
    }
    expect(msg.frame(two, false, arena)).toBe(false) // another sid starts over
    const big = new RoutedMessage('s.big', undefined, SubjectClass.Plain, Buffer.alloc(20_000), 0, 0, undefined)
    big.frame(one, false, arena)
    expect(big.frame(one, false, arena)).toBe(false)
    const small = new RoutedMessage('s.y', undefined, SubjectClass.Plain, Buffer.from('x'), 0, 0, undefined)
    small.shareFrames = false // a fan-out too small to gain from a frame (router.ts)
    small.frame(one, false, arena)
    expect(small.frame(alsoOne, false, arena)).toBe(false)
    // Every delivery asks for one sid (router.ts oneSidOf): the first asker builds the frame.
    const shared = new RoutedMessage('s.z', undefined, SubjectClass.Plain, Buffer.from('zz'), 0, 0, undefined)
    shared.shareFirst = true
    expect(shared.frame(one, false, arena)).toBe(true)
    expect(frameOf(shared).toString()).toBe('MSG s.z 1 2\r\nzz\r\n')
    expect(shared.frame(alsoOne, false, arena)).toBe(true)
    expect(shared.frame(two, false, arena)).toBe(true) // another sid: its own frame, built at once too
    expect(frameOf(shared).toString()).toBe('MSG s.z 2 2\r\nzz\r\n')
    const reusable = RoutedMessage.reusable()
    reusable.shareFirst = true
    reusable.reuse('s.z', undefined, SubjectClass.Plain, Buffer.from('zz'), 0, 0, undefined, -1)
    expect(reusable.shareFirst).toBe(false) // the next publish is judged afresh
  })

  it('holds its frame\'s slab until the frame is dropped: the arena serves it again only then', () => {
    const arena = new FrameArena(64)
    const one = { sidBytes: encodeSid('1') }
    const built = (body: string): RoutedMessage => {
      const msg = new RoutedMessage('s', undefined, SubjectClass.Plain, Buffer.from(body), 0, 0, undefined)
      msg.shareFirst = true
      expect(msg.frame(one, false, arena)).toBe(true)
      return msg
    }
    const first = built('a'.repeat(10))
    const frame = (first.frameSlab as Buffer).subarray(first.frameStart, first.frameEnd)
    const copy = Buffer.from(frame)
    const second = built('b'.repeat(40)) // a slab of its own: the first one's is full
    built('c'.repeat(40)).dropFrame() // and another: no slab was free to serve again
    expect(arena.reused).toBe(0)
    built('d'.repeat(40)).dropFrame() // the slab of the frame just dropped serves again
    expect(arena.reused).toBe(1)
    expect(frame.equals(copy)).toBe(true)
    first.dropFrame()
    second.dropFrame()
    built('e'.repeat(40)).dropFrame()
    built('f'.repeat(40)).dropFrame()
    expect(arena.reused).toBe(3)
  })

  it('writes MSG and HMSG lines of the length it says, and strips headers for clients without them', () => {
    const hdr = 'NATS/1.0\r\nA: b\r\n\r\n'
    const msg = new RoutedMessage('s.x', 'r.1', SubjectClass.Plain, Buffer.from(`${hdr}body`), hdr.length, 0, undefined)
    const hmsg = `HMSG s.x 7 r.1 ${hdr.length} ${hdr.length + 4}\r\n${hdr}body\r\n`
    expect(lineOf(msg, '7', true).toString('latin1') + bodyOf(msg, true).toString()).toBe(hmsg)
    expect(lineOf(msg, '7', false).toString('latin1') + bodyOf(msg, false).toString()).toBe('MSG s.x 7 r.1 4\r\nbody\r\n')
    const plain = new RoutedMessage('a', undefined, SubjectClass.Plain, Buffer.alloc(1234), 0, 0, undefined)
    expect(lineOf(plain, '42', true).toString('latin1')).toBe('MSG a 42 1234\r\n') // no headers: MSG whatever the client negotiated
  })

  it('writes the same line as a template string, for any subject (as a string or its bytes), reply, sid and sizes', () => {
    const token = fc.stringMatching(/^[!-~]{1,40}$/).filter((t) => !t.includes(' '))
    const sizes = [fc.nat(300), fc.nat(70_000), fc.boolean()] as const
    const replies = fc.option(token, { nil: undefined })
    const asBytes = fc.boolean()
    const cases = [token, replies, token, ...sizes, asBytes] as const
    fc.assert(fc.property(...cases, (subject, reply, sid, hdrChars, payloadBytes, headers, b) => {
      const hdr = hdrChars === 0 ? '' : `NATS/1.0\r\n${'x'.repeat(hdrChars)}\r\n\r\n`
      const data = Buffer.concat([Buffer.from(hdr), Buffer.alloc(payloadBytes)])
      const msg = new RoutedMessage(subject, reply, SubjectClass.Plain, data, hdr.length, 0, undefined)
      if (b) msg.subjectBytes = Buffer.from(subject, 'latin1')
      const r = reply === undefined ? '' : ` ${reply}`
      const expected = headers && hdr.length > 0
        ? `HMSG ${subject} ${sid}${r} ${hdr.length} ${data.length}\r\n`
        : `MSG ${subject} ${sid}${r} ${headers ? data.length : payloadBytes}\r\n`
      expect(lineOf(msg, sid, headers).toString('latin1')).toBe(expected)
    }))
  })

  it("encodes nats-server's no-responders status", () => {
    expect(encodeNoResponders('_INBOX.a.1', Buffer.from('3')).toString()).toBe('HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n')
  })

  it('parses header blocks with status and repeated keys', () => {
    expect(parseHeaders('NATS/1.0 503\r\nA: 1\r\nA: 2\r\n\r\n')).toEqual({ status: '503', headers: { A: ['1', '2'] } })
  })
})
