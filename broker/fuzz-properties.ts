/**
 * Fuzz properties of the protocol parser and the broker core, for fast-check. CI runs each a
 * few hundred times (`parser.fuzz.test.ts`); `npm run fuzz -- --minutes N` runs them until time
 * is up with fresh seeds.
 *
 * - Random bytes, split anywhere, never crash the parser (and never hang it: it consumes what
 *   it is given and returns).
 * - Valid commands followed by garbage, split anywhere: every valid command takes effect,
 *   exactly as without the garbage; the garbage can only end the connection.
 * - A connection sending garbage never corrupts another: a subscriber receives exactly the
 *   messages a well-behaved publisher sent, in order, however the two streams interleave.
 */
import fc from 'fast-check'
import type { Transport } from './client-host.ts'
import type { ProtocolErrorCode } from './errors.ts'
import { resolveOptions } from './options.ts'
import { ProtocolParser, type ProtocolHandler } from './parser.ts'
import { Router } from './router.ts'

export interface FuzzProperty {
  name: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each property has its own tuple of inputs
  property: () => fc.IProperty<any>
}

/** Writes down every operation the parser hands out. */
export class OperationLog implements ProtocolHandler {
  ops: string[] = []
  /** The subject key each PUB and HPUB came with, in order. */
  subjectKeys: number[] = []
  connect (json: string): void { this.ops.push(`CONNECT ${json}`) }
  pub (subject: string, reply: string | undefined, payload: Buffer, subjectKey: number): void {
    this.ops.push(`PUB ${subject} ${reply ?? '-'} [${payload.toString('latin1')}]`)
    this.subjectKeys.push(subjectKey)
  }

  hpub (subject: string, reply: string | undefined, headerBytes: number, data: Buffer, subjectKey: number): void {
    this.ops.push(`HPUB ${subject} ${reply ?? '-'} ${headerBytes} [${data.toString('latin1')}]`)
    this.subjectKeys.push(subjectKey)
  }

  sub (subject: string, queue: string | undefined, sid: string): void { this.ops.push(`SUB ${subject} ${queue ?? '-'} ${sid}`) }
  unsub (sid: string, max: number | undefined): void { this.ops.push(`UNSUB ${sid} ${max ?? '-'}`) }
  ping (): void { this.ops.push('PING') }
  pong (): void { this.ops.push('PONG') }
  error (code: ProtocolErrorCode): void { this.ops.push(`ERROR ${code}`) }
  /** Times the parser paused at its operations budget. */
  budgetPauses = 0
  opsSpent (): void { this.budgetPauses++ }
}

const LIMITS = { maxControlLineBytes: 4096, maxPayloadBytes: 1024 }

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range ignored). */
export function cut (bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))]
    .filter((p) => p > 0 && p < bytes.length)
    .sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of points) { chunks.push(bytes.subarray(from, p)); from = p }
  chunks.push(bytes.subarray(from))
  return chunks
}

const token = fc.stringMatching(/^[a-zA-Z0-9_-]{1,6}$/)
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'))
const sid = fc.stringMatching(/^[a-z0-9]{1,4}$/)
const payload = fc.uint8Array({ maxLength: 64, size: 'max' }).map((b) => Buffer.from(b))

/** A valid client command: its bytes and the operation the parser must hand out for it. */
const command: fc.Arbitrary<{ bytes: Buffer, op: string }> = fc.oneof(
  fc.tuple(subject, fc.option(subject, { nil: undefined }), payload).map(([s, reply, p]) => ({
    bytes: Buffer.concat([Buffer.from(`PUB ${s}${reply === undefined ? '' : ` ${reply}`} ${p.length}\r\n`), p, Buffer.from('\r\n')]),
    op: `PUB ${s} ${reply ?? '-'} [${p.toString('latin1')}]`
  })),
  fc.tuple(subject, payload).map(([s, p]) => {
    const header = 'NATS/1.0\r\nK: v\r\n\r\n'
    const data = Buffer.concat([Buffer.from(header), p])
    return { bytes: Buffer.concat([Buffer.from(`HPUB ${s} ${header.length} ${data.length}\r\n`), data, Buffer.from('\r\n')]), op: `HPUB ${s} - ${header.length} [${data.toString('latin1')}]` }
  }),
  fc.tuple(subject, fc.option(token, { nil: undefined }), sid).map(([s, q, id]) => ({
    bytes: Buffer.from(`SUB ${s}${q === undefined ? '' : ` ${q}`} ${id}\r\n`),
    op: `SUB ${s} ${q ?? '-'} ${id}`
  })),
  fc.tuple(sid, fc.option(fc.nat({ max: 1000 }), { nil: undefined })).map(([id, max]) => ({
    bytes: Buffer.from(`UNSUB ${id}${max === undefined ? '' : ` ${max}`}\r\n`),
    op: `UNSUB ${id} ${max ?? '-'}`
  })),
  fc.constant({ bytes: Buffer.from('PING\r\n'), op: 'PING' }),
  fc.constant({ bytes: Buffer.from('PONG\r\n'), op: 'PONG' }),
  fc.record({ verbose: fc.boolean(), name: fc.string({ maxLength: 10 }) }).map((o) => ({ bytes: Buffer.from(`CONNECT ${JSON.stringify(o)}\r\n`), op: `CONNECT ${JSON.stringify(o)}` }))
)

// size 'max': fast-check otherwise keeps arrays small, and long payloads and garbage matter here.
const garbage = fc.uint8Array({ minLength: 1, maxLength: 300, size: 'max' }).map((b) => Buffer.from(b))
const cuts = fc.array(fc.nat(), { maxLength: 30, size: 'max' })

/** A fake socket that keeps what the broker writes to it. */
class CapturingTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  readonly chunks: Buffer[] = []
  closed = false
  write (chunk: Buffer): void { this.chunks.push(Buffer.from(chunk)) }
  get bufferedBytes (): number { return 0 }
  close (): void { this.closed = true }
  pauseReading (): void {}
  resumeReading (): void {}
  get text (): string { return Buffer.concat(this.chunks).toString('latin1') }
}

/** MSG subjects and payloads in a captured stream, in order. */
function messagesIn (text: string): string[] {
  const out: string[] = []
  let pos = 0
  while (pos < text.length) {
    const eol = text.indexOf('\r\n', pos)
    if (eol === -1) break
    const args = text.slice(pos, eol).split(' ')
    pos = eol + 2
    if (args[0] === 'MSG') {
      const size = Number(args[args.length - 1])
      out.push(`${args[1] as string} ${text.slice(pos, pos + size)}`)
      pos += size + 2
    }
  }
  return out
}

export const BROKER_FUZZ_PROPERTIES: FuzzProperty[] = [
  {
    name: 'protocol parser: random bytes split anywhere never crash it',
    property: () => fc.property(fc.uint8Array({ maxLength: 2000, size: 'max' }), cuts, (bytes, at) => {
      const parser = new ProtocolParser(new OperationLog(), LIMITS, () => 0)
      for (const chunk of cut(Buffer.from(bytes), at)) parser.feed(chunk)
    })
  },
  {
    name: 'protocol parser: every valid command takes effect, whatever garbage follows and wherever the stream is split',
    property: () => fc.property(fc.array(command, { maxLength: 20, size: 'max' }), fc.option(garbage, { nil: undefined }), cuts, (commands, junk, at) => {
      const log = new OperationLog()
      const parser = new ProtocolParser(log, LIMITS, () => 0)
      const stream = Buffer.concat([...commands.map((c) => c.bytes), junk ?? Buffer.alloc(0)])
      for (const chunk of cut(stream, at)) parser.feed(chunk)
      const expected = commands.map((c) => c.op)
      if (JSON.stringify(log.ops.slice(0, expected.length)) !== JSON.stringify(expected)) {
        throw new Error(`valid commands lost or changed:\nexpected ${JSON.stringify(expected)}\ngot      ${JSON.stringify(log.ops)}`)
      }
      if (junk === undefined && log.ops.length !== expected.length) throw new Error(`extra operations: ${JSON.stringify(log.ops.slice(expected.length))}`)
    })
  },
  {
    name: 'broker: a connection sending garbage never corrupts another connection\'s messages',
    property: () => fc.property(fc.array(payload, { minLength: 1, maxLength: 30, size: 'max' }), garbage, cuts, cuts, fc.array(fc.boolean(), { maxLength: 60, size: 'max' }), (payloads, junk, cutsA, cutsB, order) => {
      const turns: Array<() => void> = []
      const router = new Router(resolveOptions({ port: 0 }), { schedule: (run) => { turns.push(run) } })
      const drain = (): void => { while (turns.length > 0) (turns.shift() as () => void)() }
      const transports = [new CapturingTransport(), new CapturingTransport(), new CapturingTransport()]
      const [subscriber, publisher, vandal] = transports.map((t) => router.accept(t, () => 'INFO {}\r\n'))
      if (subscriber == null || publisher == null || vandal == null) throw new Error('connection refused')
      subscriber.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\nSUB iso.> 1\r\n'))
      publisher.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
      vandal.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
      drain()
      const sent = payloads.map((p, i) => `iso.m${i} ${p.toString('latin1')}`)
      const good = cut(Buffer.concat(payloads.map((p, i) => Buffer.concat([Buffer.from(`PUB iso.m${i} ${p.length}\r\n`), p, Buffer.from('\r\n')]))), cutsB)
      const bad = cut(junk, cutsA)
      let g = 0
      let b = 0
      for (let k = 0; g < good.length || b < bad.length; k++) {
        const takeBad = b < bad.length && (g >= good.length || order[k % Math.max(1, order.length)] === true)
        if (takeBad) vandal.receive(bad[b++] as Buffer)
        else publisher.receive(good[g++] as Buffer)
        drain()
      }
      const received = messagesIn(transports[0]?.text ?? '')
      if (JSON.stringify(received) !== JSON.stringify(sent)) throw new Error(`subscriber got ${JSON.stringify(received)}, publisher sent ${JSON.stringify(sent)}`)
      if (transports[1]?.closed === true) throw new Error('the well-behaved publisher was closed')
    })
  }
]
