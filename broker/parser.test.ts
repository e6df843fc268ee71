import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ProtocolErrorCode } from './errors.ts'
import { OperationLog } from './fuzz-properties.ts'
import { OPS_PER_BUDGET, ProtocolParser, TIME_BUDGET_MS, hasByteBelow0x21, parseSize } from './parser.ts'
import { SubjectInterner } from './subject-intern.ts'

const limits = { maxControlLineBytes: 4096, maxPayloadBytes: 1024 }

function parseChunks (chunks: Buffer[]): string[] {
  const recorder = new OperationLog()
  const parser = new ProtocolParser(recorder, limits)
  for (const c of chunks) parser.feed(c)
  return recorder.ops
}

describe('the four-byte scan of a PUB line', () => {
  it('never misses a byte below 0x21 in a word, read as the parser reads it', () => {
    const edges = fc.constantFrom(0x20, 0x21, 0x09, 0x0a, 0x0d, 0x7f, 0x80, 0xff)
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), edges)
    fc.assert(fc.property(fc.array(byte, { minLength: 4, maxLength: 4 }), (bytes) => {
      const word = new DataView(Uint8Array.from(bytes).buffer).getInt32(0, true)
      if (bytes.some((b) => b < 0x21)) expect(hasByteBelow0x21(word)).toBe(true)
      if (bytes.every((b) => b >= 0x21 && b < 0x80)) expect(hasByteBelow0x21(word)).toBe(false)
    }), { numRuns: 5000 })
  })
})

describe('the operations budget', () => {
  it('pauses after OPS_PER_BUDGET operations in one chunk, holds the rest in order, and goes on at resume()', () => {
    const log = new OperationLog()
    const parser = new ProtocolParser(log, limits, () => 0) // a stopped clock: only the count decides
    parser.feed(Buffer.from('PING\r\n'.repeat(OPS_PER_BUDGET * 2 + 10) + 'SUB a 1\r\n'))
    expect(log.ops).toHaveLength(OPS_PER_BUDGET)
    expect(log.budgetPauses).toBe(1)
    parser.feed(Buffer.from('UNSUB 1\r\n')) // arrives while paused: held behind the rest
    parser.resume()
    expect(log.ops).toHaveLength(OPS_PER_BUDGET * 2)
    parser.resume()
    expect(log.ops.slice(-3)).toEqual(['PING', 'SUB a - 1', 'UNSUB 1 -'])
    expect(log.ops).toHaveLength(OPS_PER_BUDGET * 2 + 12)
    expect(log.budgetPauses).toBe(2)
  })

  it('holds the rest of a chunk as large as maxChunkBytes (a WebSocket message) while paused, and cuts off past it', () => {
    const chunk = Buffer.from('SUB many.subjects 1\r\n'.repeat(8000)) // 168,000 bytes: far past 1 KiB + 4 KiB + 64 KiB
    const held = new OperationLog()
    const taking = new ProtocolParser(held, { ...limits, maxChunkBytes: chunk.length }, () => 0)
    taking.feed(chunk)
    expect(held.ops).toHaveLength(OPS_PER_BUDGET)
    for (let i = 0; i < 8 && held.ops.length < 8000; i++) taking.resume()
    expect(held.ops).toHaveLength(8000)
    expect(held.ops.filter((op) => op.startsWith('ERROR'))).toEqual([])
    const cut = new OperationLog()
    const reading = new ProtocolParser(cut, limits, () => 0) // a read's chunk: at most a command and 64 KiB held
    reading.feed(chunk)
    expect(cut.ops.at(-1)).toBe('ERROR MAX_PAYLOAD')
  })

  it('pauses after TIME_BUDGET_MS with input left, checking the clock every 64 operations', () => {
    const log = new OperationLog()
    let now = 0
    const parser = new ProtocolParser(log, limits, () => now)
    const slow = new OperationLog()
    slow.ping = () => { log.ops.push('PING'); now += 0.1 } // each operation takes 0.1 ms
    const timed = new ProtocolParser(slow, limits, () => now)
    timed.feed(Buffer.from('PING\r\n'.repeat(500)))
    expect(log.ops).toHaveLength(64) // 6.4 ms by the first check: past the 2 ms
    expect(slow.budgetPauses).toBe(1)
    expect(TIME_BUDGET_MS).toBe(2)
    parser.feed(Buffer.from('PING\r\n'.repeat(500))) // operations that take no time: the count decides
    expect(log.ops).toHaveLength(64 + 500)
  })

  it('assembles a payload that spans reads in one buffer of exactly its size and CRLF, ready to be kept as it is', () => {
    const size = 100 * 1024
    let got: Buffer | null = null
    const log = new OperationLog()
    log.pub = (_s, _r, payload) => { got = payload }
    const parser = new ProtocolParser(log, { ...limits, maxPayloadBytes: 1024 * 1024 }, () => 0)
    const message = Buffer.concat([Buffer.from(`PUB big ${size}\r\n`), Buffer.alloc(size, 120), Buffer.from('\r\n')])
    for (let at = 0; at < message.length; at += 7000) parser.feed(message.subarray(at, at + 7000))
    const payload = got as unknown as Buffer
    expect(payload.length).toBe(size)
    expect(payload.byteOffset).toBe(0)
    expect(payload.buffer.byteLength).toBe(size + 2)
  })

  it('never pauses in the middle of a message', () => {
    const log = new OperationLog()
    const parser = new ProtocolParser(log, limits, () => 0) // a stopped clock: only the count decides
    parser.feed(Buffer.from('PUB a 1\r\nx\r\n'.repeat(OPS_PER_BUDGET + 1)))
    expect(log.ops).toHaveLength(OPS_PER_BUDGET)
    parser.resume()
    expect(log.ops).toHaveLength(OPS_PER_BUDGET + 1)
    expect(log.ops.every((op) => op === 'PUB a - [x]')).toBe(true)
  })
})

const STREAM = Buffer.from([
  'CONNECT {"verbose":false,"name":"é"}\r\n',
  'PING\r\n',
  'sub quote.> 1\r\n',
  'SUB  work \t q  2\r\n',
  'PUB quote.a 5\r\nhello\r\n',
  'PUB quote.b _INBOX.x 4\r\na\r\nb\r\n',
  'HPUB quote.c 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
  'PUB empty 0\r\n\r\n',
  'UNSUB 1 10\n',
  'UNSUB 2\r\n',
  '\r\n',
  'pong\r\n'
].join(''), 'utf8')

const EXPECTED = [
  'CONNECT {"verbose":false,"name":"é"}',
  'PING',
  'SUB quote.> - 1',
  'SUB work q 2',
  'PUB quote.a - [hello]',
  'PUB quote.b _INBOX.x [a\r\nb]',
  'HPUB quote.c - 12 [NATS/1.0\r\n\r\nhi]',
  'PUB empty - []',
  'UNSUB 1 10',
  'UNSUB 2 -',
  'PONG'
]

describe('protocol parser', () => {
  it('parses a stream of every operation', () => {
    expect(parseChunks([STREAM])).toEqual(EXPECTED)
  })

  it('gives the same operations whatever offset the stream is split at', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseChunks([STREAM.subarray(0, i), STREAM.subarray(i)])).toEqual(EXPECTED)
    }
  })

  it('gives the same operations fed one byte at a time', () => {
    const bytes: Buffer[] = []
    for (let i = 0; i < STREAM.length; i++) bytes.push(STREAM.subarray(i, i + 1))
    expect(parseChunks(bytes)).toEqual(EXPECTED)
  })

  it('gives the same operations for any split into many chunks', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 20 }), (cuts) => {
      const sorted = [...cuts].sort((a, b) => a - b)
      const chunks: Buffer[] = []
      let from = 0
      for (const c of sorted) { chunks.push(STREAM.subarray(from, c)); from = c }
      chunks.push(STREAM.subarray(from))
      expect(parseChunks(chunks)).toEqual(EXPECTED)
    }), { numRuns: 500 })
  })

  it.each<[string, string, ProtocolErrorCode]>([
    ['an unknown operation', 'FOO bar\r\n', 'UNKNOWN_OPERATION'],
    ['PUB without arguments', 'PUB\r\n', 'UNKNOWN_OPERATION'],
    ['SUB without a sid', 'SUB foo\r\n', 'UNKNOWN_OPERATION'],
    ['a non-numeric size', 'PUB foo x\r\nhi\r\n', 'BAD_SIZE'],
    ['a negative size', 'PUB foo -1\r\n', 'BAD_SIZE'],
    ['a header size over the total', 'HPUB foo 20 10\r\n', 'BAD_HEADER_SIZE'],
    ['a payload over max_payload', 'PUB foo 1025\r\n', 'MAX_PAYLOAD'],
    ['a payload longer than declared', 'PUB foo 2\r\nhiXX\r\n', 'UNKNOWN_OPERATION'],
    ['a payload not followed by CRLF', 'PUB foo 2\r\nhi\n\n', 'UNKNOWN_OPERATION'],
    ['CONNECT without JSON', 'CONNECT\r\n', 'BAD_CONNECT'],
    ['a non-numeric UNSUB max', 'UNSUB 1 x\r\n', 'UNKNOWN_OPERATION']
  ])('rejects %s', (_name, input, code) => {
    expect(parseChunks([Buffer.from(input)])).toEqual([`ERROR ${code}`])
  })

  it('rejects a control line over the limit even when it never ends', () => {
    const long = Buffer.from(`SUB ${'a'.repeat(5000)}`)
    expect(parseChunks([long.subarray(0, 3000), long.subarray(3000)])).toEqual(['ERROR MAX_CONTROL_LINE'])
  })

  it('ignores everything after a fatal error', () => {
    expect(parseChunks([Buffer.from('FOO\r\nPING\r\n'), Buffer.from('PING\r\n')])).toEqual(['ERROR UNKNOWN_OPERATION'])
  })

  it('hands out a payload spanning many chunks whole', () => {
    const payload = 'x'.repeat(1000)
    const input = Buffer.from(`PUB big 1000\r\n${payload}\r\nPING\r\n`)
    const chunks = []
    for (let i = 0; i < input.length; i += 7) chunks.push(input.subarray(i, i + 7))
    expect(parseChunks(chunks)).toEqual([`PUB big - [${payload}]`, 'PING'])
  })

  it('reads sizes strictly', () => {
    expect(parseSize('0')).toBe(0)
    expect(parseSize('1048576')).toBe(1048576)
    expect(parseSize('')).toBe(-1)
    expect(parseSize('1e3')).toBe(-1)
    expect(parseSize('99999999999')).toBe(-1)
  })
})

describe('the subject key', () => {
  it('is the interner\'s slot for the subject, kept while a payload spans reads, and the same each time', () => {
    const log = new OperationLog()
    const interner = new SubjectInterner()
    const parser = new ProtocolParser(log, limits, () => 0, interner)
    parser.feed(Buffer.from('PUB trade.a 1\r\nx\r\nHPUB trade.b 12 13\r\nNATS/1.0\r\n\r\ny\r\n'))
    const [a, b] = log.subjectKeys
    const subject = Buffer.from('trade.a')
    interner.intern(subject, new DataView(subject.buffer, subject.byteOffset, subject.length), 0, subject.length)
    expect(a).toBe(interner.lastSlot)
    expect(b).toBeGreaterThanOrEqual(0)
    expect(b).not.toBe(a)
    parser.feed(Buffer.from('PUB trade.a 5\r\nhel'))
    parser.feed(Buffer.from('lo\r\n'))
    expect(log.ops.at(-1)).toBe('PUB trade.a - [hello]')
    expect(log.subjectKeys).toEqual([a, b, a])
  })
})
