/**
 * Lockstep fan-out load, for measuring a broker's CPU per delivery (the regression gate). It
 * holds raw NATS connections (a publisher and N subscribers) to one or more brokers and, on
 * command, publishes rounds of `round` messages (100 unless the session is opened with another:
 * fewer make each of the broker's wake-ups share its fixed work among fewer messages, as an
 * open-loop load at a moderate rate does): one socket write per round, then it waits
 * until every subscriber has every message of the round before the next. The broker does the
 * same work per round at any speed, so the CPU it spends per delivery compares two builds of
 * it, not how busy or fast the generator or the machine happened to be.
 *
 * Connections are lean raw sockets (raw-connection.ts: a frame scanner that counts MSG/HMSG frames and answers PING),
 * not the official client, so the generator stays far from being the bottleneck; its own CPU is
 * reported so that is shown, not assumed.
 *
 * For throughput (bench:scaling) the same sessions run pipelined: up to `window` rounds in
 * flight beyond the slowest subscriber, every session at once, for a fixed time.
 *
 * IPC commands (from bench/harness/lockstep.ts):
 *   { type: 'open', id, url, path: 'plain' | 'last-value' | 'trade', subscribers, subjects, payloadBytes }
 *   { type: 'measure', id, messages } -> { type: 'measured', id, delivered, expected, stalls, elapsedMs, cpuSeconds }
 *   {
   type: 'throughput',
   id,
   seconds,
   window
 } -> { type: 'throughput', id, delivered, elapsedMs, cpuSeconds } (every session)
 *   { type: 'firehose', id, messages } -> { type: 'firehose', id, delivered, elapsedMs, closed, cpuSeconds }
 *   { type: 'stop' } -> result { }
 *
 * The firehose (bench:firehose) is what `nats bench` does first: the publisher writes
 * `messages` as fast as its socket takes them, held back only by TCP (it waits for 'drain', as
 * a client's blocking write does), with no window at all; the subscriber counts until it has
 * them all, its connection closes (a slow-consumer cut), or nothing arrives for 3 s.
 */
import type net from 'node:net'
import { UsageError } from '../../lib/cli-options.ts'
import { RawConnection } from './raw-connection.ts'
import { fail, report } from './protocol.ts'

export const LOCKSTEP_PATHS = ['plain', 'last-value', 'trade'] as const
export type LockstepPath = typeof LOCKSTEP_PATHS[number]

/** The paths a `--paths` option names, or a usage error naming the one that is not a path. */
export function lockstepPaths (names: readonly string[]): LockstepPath[] {
  return names.map((p) => {
    if (!(LOCKSTEP_PATHS as readonly string[]).includes(p)) throw new UsageError(`--paths: ${JSON.stringify(p)} is not one of ${LOCKSTEP_PATHS.join(', ')}`)
    return p as LockstepPath
  })
}

export interface OpenCommand {
  type: 'open', id: string, url: string, path: LockstepPath, subscribers: number, subjects: number, payloadBytes: number
  /** Messages per round (ROUND unless given). */
  round?: number
}
export interface MeasureCommand { type: 'measure', id: string, messages: number }
export interface Measured { type: 'measured', id: string, delivered: number, expected: number, stalls: number, elapsedMs: number, cpuSeconds: number }
export interface ThroughputCommand { type: 'throughput', id: string, seconds: number, window: number }
export interface Throughput { type: 'throughput', id: string, delivered: number, elapsedMs: number, cpuSeconds: number }
export interface FirehoseCommand { type: 'firehose', id: string, messages: number }
export interface Firehose { type: 'firehose', id: string, delivered: number, elapsedMs: number, closed: boolean, cpuSeconds: number }

/** Messages per round unless a session names its own: one socket write of about 15-20 KiB at 128-byte payloads. */
export const ROUND = 100
/** A round not complete after this long is a stall (a lost or conflated message); counted, then moved past. */
const ROUND_DEADLINE_MS = 2000

/**
 * quote.lockstep.<session>.S<i> (last-value), trade.lockstep.<session>.S<i> (events, which the
 * broker's trade history keeps) or lockstep.plain.<session>.S<i>, the id made a subject token.
 */
function subjectPrefix (c: OpenCommand): string {
  const token = c.id.replace(/[^A-Za-z0-9_-]/g, '_')
  return c.path === 'last-value' ? `quote.lockstep.${token}` : c.path === 'trade' ? `trade.lockstep.${token}` : `lockstep.plain.${token}`
}

interface Session {
  open: OpenCommand
  prefix: string
  publisher: RawConnection
  subscribers: RawConnection[]
  payload: string
  sequence: number
  /** Messages per round. */
  round: number
}

const sessions = new Map<string, Session>()

async function open (c: OpenCommand): Promise<void> {
  const subscribers: RawConnection[] = []
  // Each session its own subjects: its subscribers get its publisher's messages and no other's.
  const prefix = subjectPrefix(c)
  for (let i = 0; i < c.subscribers; i++) {
    const s = await RawConnection.open(c.url, 'lockstep')
    // Sid 1 on every connection, as the official clients number a connection's first subscription.
    s.socket.write(`SUB ${prefix}.> 1\r\n`)
    await s.roundTrip()
    subscribers.push(s)
  }
  const publisher = await RawConnection.open(c.url, 'lockstep')
  sessions.set(c.id, { open: c, prefix, publisher, subscribers, payload: 'x'.repeat(c.payloadBytes), sequence: 0, round: c.round ?? ROUND })
}

/** One round's bytes: `s.round` PUBs (plain, trade) or HPUBs with a rising Tickfan-Seq (last-value). */
function roundBytes (s: Session): Buffer {
  const { path, subjects, payloadBytes } = s.open
  let text = ''
  for (let i = 0; i < s.round; i++) {
    const subject = (s.sequence + i) % subjects
    if (path !== 'last-value') {
      text += `PUB ${s.prefix}.S${subject} ${payloadBytes}\r\n${s.payload}\r\n`
    } else {
      const headers = `NATS/1.0\r\nTickfan-Seq: ${s.sequence + i + 1}\r\n\r\n`
      text += `HPUB ${s.prefix}.S${subject} ${headers.length} ${headers.length + payloadBytes}\r\n${headers}${s.payload}\r\n`
    }
  }
  s.sequence += s.round
  return Buffer.from(text, 'latin1')
}

/** Session `id`, its subscribers' counts set to zero for a new measurement. */
function freshSession (id: string): Session {
  const s = sessions.get(id)
  if (s === undefined) throw new Error(`lockstep: no session ${id}`)
  for (const sub of s.subscribers) sub.received = 0
  return s
}

async function measure (c: MeasureCommand): Promise<Measured> {
  const s = freshSession(c.id)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let stalls = 0
  let expected = 0
  for (let sent = 0; sent < c.messages; sent += s.round) {
    expected += s.round
    s.publisher.socket.write(roundBytes(s))
    const deadline = Date.now() + ROUND_DEADLINE_MS
    for (const sub of s.subscribers) {
      while (sub.received < expected && Date.now() < deadline) await sub.next(ROUND_DEADLINE_MS)
    }
    if (s.subscribers.some((sub) => sub.received < expected)) {
      stalls++
      expected = Math.min(...s.subscribers.map((sub) => sub.received))
    }
  }
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const delivered = s.subscribers.reduce((n, sub) => n + sub.received, 0)
  // Whole rounds: `messages` rounded up to the round.
  const sent = Math.ceil(c.messages / s.round) * s.round
  return { type: 'measured', id: c.id, delivered, expected: sent * s.subscribers.length, stalls, elapsedMs, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

/**
 * Every session pipelined at once for `seconds`: a round goes out while fewer than `window` are unread by its
 * slowest subscriber.
 */
async function throughput (c: ThroughputCommand): Promise<Throughput> {
  const all = [...sessions.values()]
  for (const s of all) for (const sub of s.subscribers) sub.received = 0
  const cpu0 = process.cpuUsage()
  const t0 = Date.now()
  const deadline = t0 + c.seconds * 1000
  await Promise.all(all.map(async (s) => {
    let sent = 0
    const slowest = (): number => {
      let m = Infinity
      for (const sub of s.subscribers) m = Math.min(m, sub.received)
      return m
    }
    while (Date.now() < deadline) {
      if (sent - slowest() < c.window * s.round) {
        s.publisher.socket.write(roundBytes(s))
        sent += s.round
        if (sent % (s.round * 4) === 0) await new Promise<void>((resolve) => setImmediate(resolve))
        continue
      }
      const lagging = s.subscribers.find((sub) => sub.received === slowest()) as RawConnection
      await lagging.next(100)
    }
  }))
  const elapsedMs = Date.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const delivered = all.reduce((n, s) => n + s.subscribers.reduce((m, sub) => m + sub.received, 0), 0)
  return { type: 'throughput', id: c.id, delivered, elapsedMs, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

/** Resolves when `socket` drains or closes, leaving no listener behind. */
function drained (socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

/** Publishes `messages` as fast as TCP takes them; see the header. */
async function firehose (c: FirehoseCommand): Promise<Firehose> {
  const s = freshSession(c.id)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const round = roundBytes(s) // one subject: every round is the same bytes
  const publisher = s.publisher.socket
  const publishing = (async () => {
    for (let sent = 0; sent < c.messages && !publisher.destroyed; sent += s.round) {
      if (!publisher.write(round)) await drained(publisher)
    }
  })()
  let lastProgress = Date.now()
  let lastCount = 0
  let lastAt = t0
  const target = c.messages * s.subscribers.length
  for (;;) {
    const got = s.subscribers.reduce((n, sub) => n + sub.received, 0)
    if (got !== lastCount) { lastCount = got; lastProgress = Date.now(); lastAt = process.hrtime.bigint() }
    if (got >= target || s.subscribers.some((sub) => sub.closed) || Date.now() - lastProgress > 3000) break
    await (s.subscribers[0] as RawConnection).next(100)
  }
  await Promise.race([publishing, new Promise((resolve) => setTimeout(resolve, 100))])
  const cpu = process.cpuUsage(cpu0)
  return {
    type: 'firehose',
    id: c.id,
    delivered: lastCount,
    elapsedMs: Number(lastAt - t0) / 1e6,
    closed: s.subscribers.some((sub) => sub.closed),
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  }
}

process.on('message', (msg: OpenCommand | MeasureCommand | ThroughputCommand | FirehoseCommand | { type: 'stop' }) => {
  if (msg.type === 'open') open(msg).then(() => process.send?.({ type: 'opened', id: msg.id }), fail)
  else if (msg.type === 'measure') measure(msg).then((m) => process.send?.(m), fail)
  else if (msg.type === 'throughput') throughput(msg).then((m) => process.send?.(m), fail)
  else if (msg.type === 'firehose') firehose(msg).then((m) => process.send?.(m), fail)
  else if (msg.type === 'stop') {
    for (const s of sessions.values()) for (const c of [s.publisher, ...s.subscribers]) c.close()
    report({})
  }
})
process.send?.({ type: 'ready' })
