/**
 * The floor: the least work a Node.js process does to relay max-throughput's load as a NATS
 * server, a yardstick of what this runtime allows tickfan's broker (reports/broker/floor.md). Not a
 * broker: no fairness, no flow control, no limits, no slow-consumer handling, no permissions,
 * no queue groups, no headers (HPUB), no last-value cache. What it does is what every NATS
 * server must do per message: read the socket, parse PUB, find the subscribers of the subject
 * (cached per subject), write each one's MSG line and body into its connection's next write, one
 * socket write per connection per turn (setImmediate) or per 64 KiB write buffer filled, the
 * write buffers pooled.
 *
 * With `--keep-trades` it also keeps every message in memory, as tickfan's trade history does,
 * in the least form that can serve it back: its bytes copied into 64 KiB slabs and its slab,
 * offset, size and arrival time in typed-array rings, the oldest slab dropped past
 * `--keep-bytes` (default 256 MiB, as tickfan's `--history-max-bytes`; the rings hold 4M messages).
 * `--keep-preallocate` takes and writes that memory at start, as tickfan's `--history-preallocate`.
 *
 * It runs in the suite's place of tickfan's broker (the folder above `broker/` is a root
 * whose `broker/main.ts` `startTickfanProcess` bundles and starts, as it does tickfan's):
 *
 *   TICKFAN_BROKER_ROOT=bench/floor npm run bench -- --workloads max-throughput ...
 *
 * Options it reads: --host, --port, --http-port (listened on, answering 404: the suite then has
 * no /varz figures), --keep-trades, --keep-bytes N, --keep-preallocate. Any other option the
 * suite passes is ignored.
 */
import http from 'node:http'
import net from 'node:net'
import { subjectMatches } from '../../../broker/subjects.ts'

const LF = 10
const SPACE = 32
const TAB = 9
const SLAB_BYTES = 64 * 1024
const OUT_BYTES = 64 * 1024
const RING = 1 << 22
const RING_MASK = RING - 1

type Latin1Buffer = Buffer & { latin1Slice: (start: number, end: number) => string }

interface Subscription {
  readonly conn: Connection
  readonly subject: string
  /** " <sid> " as bytes: what follows the subject in a MSG line. */
  readonly sidPart: Buffer
}

/** Write buffers a socket is done with, to serve again. */
const pool: Buffer[] = []
const dirty: Connection[] = []
let flushScheduled = false
const subscriptions = new Set<Subscription>()
/** subject -> its subscribers, dropped whenever a SUB or UNSUB changes interest. */
let matches = new Map<string, Subscription[]>()

function flush (): void {
  flushScheduled = false
  for (let i = 0; i < dirty.length; i++) (dirty[i] as Connection).flush()
  dirty.length = 0
}

function subscribersOf (subject: string): Subscription[] {
  let found = matches.get(subject)
  if (found === undefined) {
    found = []
    // The broker's own matcher; it runs only on a subject's first message after interest changed.
    for (const sub of subscriptions) if (subjectMatches(sub.subject, subject)) found.push(sub)
    matches.set(subject, found)
  }
  return found
}

/** Every message kept, in the least form that could serve it back (see the header). */
class Keeper {
  private readonly slabOf = new Int32Array(RING)
  private readonly offset = new Int32Array(RING)
  private readonly size = new Int32Array(RING)
  private readonly timeMs = new Float64Array(RING)
  private readonly slabs: Buffer[] = []
  private readonly spare: Buffer[] = []
  private firstSlab = 0
  private used = SLAB_BYTES
  private seq = 0
  bytes = 0

  /**
   * With `preallocate`, every slab the limit allows (and one more) is taken and written at start,
   * and the rings written too, as tickfan's `--history-preallocate` does: no fresh memory is
   * touched while trades arrive.
   */
  constructor (private readonly maxBytes: number, preallocate: boolean) {
    if (!preallocate) return
    const slabs = Math.floor(maxBytes / SLAB_BYTES) + 1
    for (let i = 0; i < slabs; i++) this.spare.push(Buffer.allocUnsafeSlow(SLAB_BYTES).fill(0))
    this.slabOf.fill(-1)
    this.offset.fill(-1)
    this.size.fill(-1)
    this.timeMs.fill(-1)
  }

  keep (buf: Buffer, start: number, n: number, nowMs: number): void {
    if (this.used + n > SLAB_BYTES) {
      this.slabs.push(this.spare.pop() ?? Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, n)))
      this.used = 0
      this.bytes += SLAB_BYTES
      if (this.bytes > this.maxBytes) {
        this.spare.push(this.slabs.shift() as Buffer)
        this.firstSlab++
        this.bytes -= SLAB_BYTES
      }
    }
    const i = this.seq++ & RING_MASK
    buf.copy(this.slabs[this.slabs.length - 1] as Buffer, this.used, start, start + n)
    this.slabOf[i] = this.firstSlab + this.slabs.length - 1
    this.offset[i] = this.used
    this.size[i] = n
    this.timeMs[i] = nowMs
    this.used += n
  }
}

class Connection {
  private out: Buffer = pool.pop() ?? Buffer.allocUnsafeSlow(OUT_BYTES)
  private outLength = 0
  /** Whether it is in this turn's list of connections to flush. */
  private queued = false
  private rest: Buffer | null = null
  private readonly sids = new Map<string, Subscription>()

  constructor (private readonly socket: net.Socket, private readonly keeper: Keeper | null) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.read(chunk))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.closed())
    socket.write(`INFO {"server_id":"floor","server_name":"floor","version":"0.0.0","proto":1,"headers":true,"max_payload":1048576,"host":"127.0.0.1","port":${(socket.address() as net.AddressInfo).port}}\r\n`)
  }

  private closed (): void {
    for (const sub of this.sids.values()) subscriptions.delete(sub)
    if (this.sids.size > 0) matches = new Map()
    this.sids.clear()
  }

  private read (chunk: Buffer): void {
    let buf = chunk
    if (this.rest !== null) { buf = Buffer.concat([this.rest, chunk]); this.rest = null }
    const nowMs = this.keeper === null ? 0 : Date.now()
    let pos = 0
    while (pos < buf.length) {
      let end = pos
      while (end < buf.length && buf[end] !== LF) end++
      if (end === buf.length) break
      const lineEnd = buf[end - 1] === 13 ? end - 1 : end
      if (((buf[pos] as number) | 0x20) === 0x70 && ((buf[pos + 1] as number) | 0x20) === 0x75) { // PUB
        let s = pos + 4
        while (buf[s] === SPACE || buf[s] === TAB) s++
        let e = s
        while (e < lineEnd && buf[e] !== SPACE && buf[e] !== TAB) e++
        // The size is the line's last token; a reply subject may come before it.
        let d = lineEnd
        while (d > e && (buf[d - 1] === SPACE || buf[d - 1] === TAB)) d--
        let n = 0
        let m = 1
        let k = d - 1
        for (; k > e && buf[k] !== SPACE && buf[k] !== TAB; k--) { n += ((buf[k] as number) - 48) * m; m *= 10 }
        while (k > e && (buf[k] === SPACE || buf[k] === TAB)) k--
        const replyEnd = k > e ? k + 1 : e // e: no reply
        let r = replyEnd
        while (r > e && buf[r - 1] !== SPACE && buf[r - 1] !== TAB) r--
        const body = end + 1
        if (body + n + 2 > buf.length) break
        this.publish(buf, s, e, r, replyEnd, body, n, nowMs)
        pos = body + n + 2
      } else {
        this.control((buf as Latin1Buffer).latin1Slice(pos, lineEnd))
        pos = end + 1
      }
    }
    if (pos < buf.length) this.rest = Buffer.from(buf.subarray(pos))
  }

  /** Subject [s, e), reply [r, re) (empty: none), body [body, body + n). */
  private publish (
    buf: Buffer, s: number, e: number, r: number, re: number, body: number, n: number, nowMs: number
  ): void {
    const subject = (buf as Latin1Buffer).latin1Slice(s, e)
    const subs = subscribersOf(subject)
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i] as Subscription
      sub.conn.deliver(sub, buf, s, e, r, re, body, n)
    }
    if (this.keeper !== null) this.keeper.keep(buf, body, n, nowMs)
  }

  private control (line: string): void {
    const words = line.trim().split(/[ \t]+/)
    switch ((words[0] as string).toUpperCase()) {
      case 'PING': this.append(PONG); break
      case 'SUB': {
        const subject = words[1] as string
        const sid = words[words.length - 1] as string
        const sub = { conn: this, subject, sidPart: Buffer.from(` ${sid} `) }
        this.sids.set(sid, sub)
        subscriptions.add(sub)
        matches = new Map()
        break
      }
      case 'UNSUB': {
        const sub = this.sids.get(words[1] as string)
        if (sub !== undefined) { this.sids.delete(words[1] as string); subscriptions.delete(sub); matches = new Map() }
        break
      }
      default: break // CONNECT, PONG and anything else: nothing to do for the floor
    }
  }

  /**
   * Room for `n` more bytes in the next write. A full write buffer goes to the socket at once
   * and a fresh one from the pool takes its place, as the official clients' write buffers do:
   * grown by doubling instead, a backlog under a CPU quota made writes of megabytes, each
   * buffer copied as it grew and dropped after its one write.
   */
  private room (n: number): void {
    if (!this.queued) {
      this.queued = true
      dirty.push(this)
      if (!flushScheduled) { flushScheduled = true; setImmediate(flush) }
    }
    if (this.outLength + n > this.out.length) {
      this.write()
      if (n > this.out.length) this.out = Buffer.allocUnsafeSlow(n) // one message larger than a write buffer
    }
  }

  private append (bytes: Buffer): void {
    this.room(bytes.length)
    this.outLength += bytes.copy(this.out, this.outLength)
  }

  deliver (sub: Subscription, buf: Buffer, s: number, e: number, r: number, re: number, body: number, n: number): void {
    const sid = sub.sidPart
    this.room(e - s + re - r + sid.length + n + 20)
    const out = this.out
    let at = this.outLength
    out[at++] = 0x4d; out[at++] = 0x53; out[at++] = 0x47; out[at++] = SPACE // MSG
    for (let k = s; k < e; k++) out[at++] = buf[k] as number
    for (let k = 0; k < sid.length; k++) out[at++] = sid[k] as number
    if (re > r) {
      for (let k = r; k < re; k++) out[at++] = buf[k] as number
      out[at++] = SPACE
    }
    if (n === 0) out[at++] = 48
    else {
      let digits = 0
      for (let v = n; v > 0; v = (v / 10) | 0) digits++
      for (let k = digits - 1, v = n; k >= 0; k--, v = (v / 10) | 0) out[at + k] = 48 + (v % 10)
      at += digits
    }
    out[at++] = 13; out[at++] = LF
    at += buf.copy(out, at, body, body + n)
    out[at++] = 13; out[at++] = LF
    this.outLength = at
  }

  /** The turn's flush: what is left in the write buffer goes to the socket. */
  flush (): void {
    this.queued = false
    this.write()
  }

  private write (): void {
    if (this.outLength === 0 || this.socket.destroyed) { this.outLength = 0; return }
    const written = this.out
    this.socket.write(written.subarray(0, this.outLength), () => {
      if (written.length === OUT_BYTES) pool.push(written)
    })
    this.out = pool.pop() ?? Buffer.allocUnsafeSlow(OUT_BYTES)
    this.outLength = 0
  }
}

const PONG = Buffer.from('PONG\r\n')

function option (name: string, fallback: string): string {
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === name) return args[i + 1] ?? fallback
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1)
  }
  return fallback
}

const host = option('--host', '127.0.0.1')
const keeper = process.argv.includes('--keep-trades')
  ? new Keeper(Number(option('--keep-bytes', String(256 * 1024 * 1024))), process.argv.includes('--keep-preallocate'))
  : null
net.createServer((socket) => new Connection(socket, keeper)).listen(Number(option('--port', '4222')), host)
http.createServer((_req, res) => { res.statusCode = 404; res.end() }).listen(Number(option('--http-port', '8222')), host)
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
