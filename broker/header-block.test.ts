import { headers, MsgHdrsImpl } from '@nats-io/transport-node'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeFault, headerBlockProblem, HeaderBlockScan } from './header-block.ts'
import { readIntegerHeader, withoutHeader } from './wire.ts'

const problem = (text: string): string | null => {
  const block = Buffer.from(text, 'latin1')
  return headerBlockProblem(block, block.length)
}

/** What a nats.js subscriber does with the block when it reads `msg.headers`. */
const decodesInNatsJs = (block: Uint8Array): boolean => {
  try {
    MsgHdrsImpl.decode(block)
    return true
  } catch {
    return false
  }
}

describe('headerBlockProblem', () => {
  it.each([
    'NATS/1.0\r\n\r\n',
    'NATS/1.0\r\nTickfan-Seq: 42\r\n\r\n',
    'NATS/1.0\r\nA:1\r\nA: 2\r\nb-c: x y\tz\r\nEmpty:\r\n\r\n',
    'NATS/1.0 503\r\n\r\n',
    'NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 7\r\n\r\n',
    'NATS/1.0\r\nName: caf\u00c3\u00a9\r\n\r\n'
  ])('accepts %j', (text) => {
    expect(problem(text)).toBeNull()
  })

  it.each([
    ['', 'shorter than 12 bytes'],
    ['NATS/1.1\r\nA: b\r\n\r\n', 'does not start with NATS/1.0'],
    ['NATS/1.0 5x3\r\n\r\n', 'the status after NATS/1.0 is not three digits'],
    ['NATS/1.0x\r\n\r\n', 'unexpected byte 120 in the status line, at byte 8'],
    ['NATS/1.0\r\nbad key: x\r\n\r\n', 'byte 32 in a header name at byte 13'],
    ['NATS/1.0\r\n\u00e9: x\r\n\r\n', 'byte 233 in a header name at byte 10'],
    ['NATS/1.0\r\nno colon\r\n\r\n', 'byte 32 in a header name at byte 12'],
    ['NATS/1.0\r\nnocolon\r\n\r\n', 'header line at byte 10 has no colon'],
    ['NATS/1.0\r\n: x\r\n\r\n', 'empty header name at byte 10'],
    ['NATS/1.0\r\nA: x\ny\r\n\r\n', 'an LF without its CR in a header value, at byte 14'],
    ['NATS/1.0\r\nA: x\ry\r\n\r\n', 'a CR without its LF in a header value, at byte 14'],
    ['NATS/1.0\r\nA: x\u0000\r\n\r\n', 'control byte 0 in a header value, at byte 14'],
    ['NATS/1.0\r\nA: x\r\n', 'does not end with a blank line'],
    ['NATS/1.0\r\nA: x\r\n\r\nB: y\r\n', 'bytes after the blank line that ends the block, at byte 18'],
    ['NATS/1.0\r\n\r\n\r\n', 'bytes after the blank line that ends the block, at byte 12']
  ])('refuses %j: %s', (text, reason) => {
    expect(problem(text)).toBe(reason)
  })

  it('reads only the header bytes it is given', () => {
    const block = Buffer.from('NATS/1.0\r\nA: b\r\n\r\n{"payload":1}')
    expect(headerBlockProblem(block, block.length - 13)).toBeNull()
    expect(headerBlockProblem(block, block.length - 14)).toBe('does not end with a blank line')
  })

  it('accepts every block nats.js writes', () => {
    const char = (min: number, max: number): fc.Arbitrary<string> =>
      fc.integer({ min, max }).map((c) => String.fromCharCode(c))
    const name = fc.string({ unit: char(33, 126).filter((c) => c !== ':'), minLength: 1, maxLength: 12 })
    const value = fc.string({ unit: fc.oneof(char(32, 126), fc.constantFrom('\t', 'é', '€')), maxLength: 20 })
    const status = fc.option(fc.integer({ min: 100, max: 999 }))
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { maxLength: 6 }), status, (pairs, code) => {
      const h = code === null ? headers() : headers(code, 'Some Status')
      for (const [k, v] of pairs) h.append(k, v)
      const block = (h as MsgHdrsImpl).encode()
      // nats.js writes nothing at all for an empty set without a status.
      if (block.length === 0) return
      expect(headerBlockProblem(block, block.length)).toBeNull()
    }), { numRuns: 500 })
  })

  it('accepts no block that a nats.js subscriber cannot read', () => {
    const piece = fc.oneof(
      fc.constantFrom('NATS/1.0', '\r\n', '\r', '\n', ':', ' ', '\t', 'A', 'b-c', '503', 'é', '\u0000', '\u007f', '\u00ff'),
      fc.string({ maxLength: 4 })
    )
    const blocks = fc.array(piece, { maxLength: 16 }).map((parts) => Buffer.from(['NATS/1.0', ...parts, '\r\n\r\n'].join(''), 'latin1'))
    fc.assert(fc.property(fc.oneof(blocks, fc.uint8Array({ maxLength: 40 })), (block) => {
      if (headerBlockProblem(block, block.length) === null) expect(decodesInNatsJs(block)).toBe(true)
    }), { numRuns: 2000 })
  })

  it('scans as describeFault reads, a step at a time, on any block', () => {
    const piece = fc.constantFrom('NATS/1.0', ' 503', ' 100 Idle', '\r\n', '\r', '\n', ':', ' ', '\t', 'A', 'Tickfan-Seq', '12', 'é', '\u0000', '')
    const blocks = fc.array(piece, { maxLength: 12 }).map((parts) => Buffer.from(parts.join(''), 'latin1'))
    const scan = new HeaderBlockScan()
    fc.assert(fc.property(fc.oneof(blocks, blocks.map((b) => Buffer.concat([Buffer.from('NATS/1.0\r\n'), b, Buffer.from('\r\n\r\n')]))), (block) => {
      expect(scan.check(block, block.length)).toBe(describeFault(block, block.length))
    }), { numRuns: 3000 })
  })

  it('reads Tickfan-Seq as readIntegerHeader does, and sees every Tickfan-Conflated line withoutHeader would take out', () => {
    const name = fc.constantFrom('Tickfan-Seq', 'tickfan-seq', 'TICKFAN-SEQ', 'Tickfan-Conflated', 'tickfan-CONFLATED', 'Tickfan-Se', 'X-Tickfan-Seq', 'A')
    const value = fc.oneof(fc.constantFrom('', ' ', '12', ' 42', '\t7', '9007199254740993', 'x1', '1x'), fc.nat().map(String))
    const scan = new HeaderBlockScan()
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { maxLength: 4 }), fc.boolean(), (lines, status) => {
      const text = `NATS/1.0${status ? ' 503' : ''}\r\n${lines.map(([k, v]) => `${k}:${v}\r\n`).join('')}\r\n`
      const block = Buffer.from(`${text}payload`, 'latin1')
      expect(scan.check(block, text.length)).toBeNull()
      if (status) {
        expect(scan.sequence).toBeNull()
        expect(scan.conflated).toBe(true)
        return
      }
      expect(scan.sequence).toBe(readIntegerHeader(block, text.length, 'Tickfan-Seq'))
      expect(scan.conflated).toBe(withoutHeader(block, text.length, 'Tickfan-Conflated') !== null)
    }), { numRuns: 2000 })
  })

  it('finds the block nats.js cannot read that the broker once relayed', () => {
    const block = Buffer.from('NATS/1.0\r\nbad key: x\r\n\r\n')
    expect(decodesInNatsJs(block)).toBe(false)
    expect(headerBlockProblem(block, block.length)).not.toBeNull()
  })
})
