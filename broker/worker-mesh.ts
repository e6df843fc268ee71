/**
 * The links between the workers of one multi-core broker: every worker has a Unix socket, and
 * every worker holds a connection to every other. A message a client publishes on one worker is
 * routed there and sent once to each other worker, which routes it to its own subscribers and
 * never sends it on: every subscriber gets it exactly once, and every worker's last-value cache
 * sees every value, so each gives a new subscriber the same snapshot. Conflation and fairness
 * stay per worker, as on one.
 *
 * Interest travels too: each worker tells the others how many subscriptions it has per
 * (subject, queue). A message goes only to workers with matching interest, except last-value
 * messages, which go to every worker so that every cache holds every value. Queue groups span
 * workers: the worker a message is published on picks where each matching group is served
 * (weighted by members) and names, in the frame to that worker, the groups it must serve. A
 * request nobody anywhere listens to gets the no-responders status.
 *
 * Fairness: a message published here is not delivered here at once. It goes out to the other
 * workers and back to this one through this worker's own socket (the loopback), in the same
 * write turn, so every worker, this one included, delivers it after a hop. Then this worker
 * waits for a drawn number of the other workers to say they delivered it (fair-release.ts), so
 * no subscriber is first because it shares the publisher's worker. Loopback frames are read in
 * the order they were written, so who published each (for no-echo) is kept in order beside them.
 *
 * Frames: [u32 length][u8 type] then, for a message, [str subject][str reply][u32 header bytes]
 * [u32 data][u32 groups]([str queue])*, for interest [i32 delta][u32 seq][str subject][str queue],
 * for an interest acknowledgement [u32 seq], and for delivered [f64 message frames delivered so
 * far on this link]; strings are latin1 (the broker's subject encoding). Frames to one worker
 * are batched per event-loop turn into one socket write; a DELIVERED count goes on its own.
 */
import { rmSync } from 'node:fs'
import net from 'node:net'
import type { Client } from './client.ts'
import type { Subscription } from './subscription.ts'
import { FairRelease, type DeliveryLink } from './fair-release.ts'
import { publisherOfWorker, type Router, type RouterLinks } from './router.ts'
import { SubjectTrie, type Interest } from './subject-trie.ts'
import type { RoutedMessage } from './wire.ts'

const MSG = 1
const INTEREST = 2
const INTEREST_ACK = 3
const DROPPED = 4
const DELIVERED = 5
/**
 * The longest this worker holds its own subscribers' copy of a local publish for the peers it
 * drew to go first: past it, a stopped or overloaded peer no longer sets the pace here.
 */
const MAX_FAIR_HOLD_MS = 5
/** Distinct event subjects remembered for a peer that is behind; past it, every event subject counts as missed. */
const MAX_DROPPED_SUBJECTS = 10_000
/** Last-value subjects held by name for a peer (HeldValues); past it, every value published here is resent. */
const MAX_RESENT_SUBJECTS = 100_000
/**
 * connectTo waits at most this long for the peer to deliver this worker's last values (a stuck
 * peer must not stop a restarted worker from being linked).
 */
const HELLO_TIMEOUT_MS = 10_000
/** A PONG waits at most this long for a peer to acknowledge interest (a stuck peer must not hang clients). */
const INTEREST_ACK_TIMEOUT_MS = 2000
/** Bytes queued for one worker past which it is behind: its last values are conflated, its events not sent. */
export const DEFAULT_MESH_MAX_QUEUED_BYTES = 64 * 1024 * 1024
const NO_QUEUES: ReadonlySet<string> = new Set()

export interface MeshStats {
  forwardedMsgs: number
  forwardedBytes: number
  receivedMsgs: number
  /** Event and plain messages not sent to a worker whose link was down or too far behind (the loopback included). */
  droppedMsgs: number
  /** Last values held back for a worker that was behind, superseded by a newer one before it caught up. */
  conflatedMsgs: number
  /** Times the last values held for a worker passed the queued-bytes limit: held by subject from then (HeldValues). */
  heldValuesPastLimit: number
  /** Last values sent from this worker's cache to a worker that caught up (heldValuesPastLimit) or (re)connected. */
  resentFromCache: number
  /** Times a link fell behind (past the queued-bytes limit): a peer's, or this worker's loopback. */
  linksBehind: number
  /** Local subscribers closed because this worker missed events, its peers' or its own (the loopback), while behind. */
  closedForMissedEvents: number
  /** PONGs released because a peer did not acknowledge interest within INTEREST_ACK_TIMEOUT_MS. */
  interestAckTimeouts: number
  /** Links made without the peer saying it delivered this worker's last values within HELLO_TIMEOUT_MS. */
  helloTimeouts: number
  /** Local publishes whose delivery here waited for peers drawn to deliver first (fair-release.ts). */
  localDeliveriesHeld: number
  /** Of those, released because a peer did not say it delivered within MAX_FAIR_HOLD_MS. */
  localHoldTimeouts: number
  /** How much the draw favours delivering here first, to make up for peers that win anyway (1 = not at all). */
  localFirstBias: number
}

/** Subscriptions somewhere, by subject and queue ('' for plain ones). */
interface RemoteInterest extends Interest {
  readonly subject: string
  readonly queue: string | undefined
  members: number
}

/** Another worker's interest: a trie to match subjects against, and counts by key. */
class PeerInterest {
  readonly trie = new SubjectTrie<RemoteInterest>()
  readonly entries = new Map<string, RemoteInterest>()

  change (subject: string, queue: string, delta: number): void {
    const key = `${subject} ${queue}`
    const entry = this.entries.get(key)
    if (entry === undefined) {
      if (delta <= 0) return
      const created: RemoteInterest = { subject, queue: queue === '' ? undefined : queue, members: delta }
      this.entries.set(key, created)
      this.trie.insert(created)
      return
    }
    entry.members += delta
    if (entry.members <= 0) {
      this.entries.delete(key)
      this.trie.remove(entry)
    }
  }
}

/**
 * The newest last-value frame per subject held for a link, up to its queued-bytes limit in
 * frames. Past it, for a peer, the frames are dropped and their subjects kept by name, and so are
 * the values after them (at most MAX_RESENT_SUBJECTS names, then every subject): each named
 * value is later sent from this worker's cache (resend). Before, the frames had no bound but the
 * subjects, and a stopped peer grew its peers by one frame per new quote subject
 * (reports/broker/mesh-behind.md). The loopback keeps its frames: its values are not in the
 * cache yet, so nothing could resend them.
 */
interface HeldValues { frames: Map<string, Buffer>, bytes: number, names: Set<string> | null, all: boolean }

interface Behind { values: HeldValues, missed: Set<string>, missedAll: boolean }

/**
 * Named values being resent to a peer from this worker's cache, once the cache holds every
 * value published here before the last of `pending` resends began (FairRelease.afterEarlier):
 * meanwhile this link's values on those subjects wait in `later`, to go after them. A peer that
 * catches up again first adds its names, and the last resend sends them all. Only values
 * published here are resent (the others reach the peer from the workers they were published
 * on), and, in a `hello` to a peer that was (re)started, those it published before: nobody
 * else can give them back.
 */
interface Resend {
  names: Set<string> | 'all'
  later: HeldValues
  pending: number
  hello: boolean
  /** Called once the values are sent (a hello's: connectTo then waits for the peer to deliver them). */
  sent?: () => void
}

function heldValues (): HeldValues {
  return { frames: new Map(), bytes: 0, names: null, all: false }
}

class Outbound implements DeliveryLink {
  chunks: Buffer[] = []
  bytes = 0
  scheduled = false
  /** The highest interest sequence this peer has said it applied. */
  ackedInterestSeq = 0
  /**
   * While the peer is behind (its link past the byte limit): the newest last-value frame per
   * subject, and the event subjects whose messages were not sent (at most MAX_DROPPED_SUBJECTS,
   * then all); on catching up the peer is told what it missed, then gets the newest values
   * (HeldValues says how they are bounded).
   */
  behind: Behind | null = null
  /** Named values on their way from the cache, after it caught up (see Resend); null when none. */
  resending: Resend | null = null
  /** Message frames sent on this link, and how many of them the peer has said it delivered. */
  sentMsgs = 0
  delivered = 0
  /** Calls waiting for `delivered` to reach a count (whenDelivered). */
  deliveredWaiters: Array<{ count: number, done: () => void }> = []
  constructor (readonly peer: number, readonly socket: net.Socket) {}
  get gone (): boolean { return this.socket.destroyed }
}

/**
 * Writes a u32-length-prefixed latin1 string (`str` above) at `at`; returns where the next field
 * starts. Not u16: a subject may be as long as --max-control-line allows, and past 65,535 bytes
 * a u16 length threw and took the worker down.
 */
function putString (buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 4, 'latin1')
  buf.writeUInt32BE(n, at)
  return at + 4 + n
}

/** One message frame, in one allocation: this runs for every publish on a multi-worker broker. */
export function encodeMessageFrame (
  subject: string,
  reply: string | undefined,
  data: Buffer,
  headerBytes: number,
  queues: readonly string[]
): Buffer {
  const r = reply ?? ''
  let length = 1 + 4 + subject.length + 4 + r.length + 8 + data.length + 4
  for (const q of queues) length += 4 + q.length
  const buf = Buffer.allocUnsafe(4 + length)
  buf.writeUInt32BE(length, 0)
  buf[4] = MSG
  let at = putString(buf, 5, subject)
  at = putString(buf, at, r)
  buf.writeUInt32BE(headerBytes < 0 ? 0xffffffff : headerBytes, at)
  buf.writeUInt32BE(data.length, at + 4)
  at += 8
  at += data.copy(buf, at)
  // u32: a u8 count wrapped at 256 groups, and the groups past it were never served.
  buf.writeUInt32BE(queues.length, at)
  at += 4
  for (const q of queues) at = putString(buf, at, q)
  return buf
}

export function encodeInterestFrame (subject: string, queue: string, delta: number, seq: number): Buffer {
  const length = 1 + 4 + 4 + 4 + subject.length + 4 + queue.length
  const buf = Buffer.allocUnsafe(4 + length)
  buf.writeUInt32BE(length, 0)
  buf[4] = INTEREST
  buf.writeInt32BE(delta, 5)
  buf.writeUInt32BE(seq, 9)
  putString(buf, putString(buf, 13, subject), queue)
  return buf
}

/** The event subjects a worker missed while behind ('>' for too many to list). */
export function encodeDroppedFrame (subjects: readonly string[]): Buffer {
  let length = 1 + 4
  for (const s of subjects) length += 4 + Buffer.byteLength(s, 'latin1')
  const buf = Buffer.allocUnsafe(4 + length)
  buf.writeUInt32BE(length, 0)
  buf[4] = DROPPED
  buf.writeUInt32BE(subjects.length, 5)
  let at = 9
  for (const s of subjects) at = putString(buf, at, s)
  return buf
}

/** A frame of one number: an interest sequence (u32) or a count of delivered messages (f64: it never wraps). */
function encodeNumberFrame (type: typeof INTEREST_ACK | typeof DELIVERED, n: number): Buffer {
  const bytes = type === DELIVERED ? 8 : 4
  const buf = Buffer.allocUnsafe(4 + 1 + bytes)
  buf.writeUInt32BE(1 + bytes, 0)
  buf[4] = type
  if (type === DELIVERED) buf.writeDoubleBE(n, 5)
  else buf.writeUInt32BE(n, 5)
  return buf
}

export const encodeInterestAckFrame = (seq: number): Buffer => encodeNumberFrame(INTEREST_ACK, seq)
/** How many message frames this worker has delivered from the link's far end. */
export const encodeDeliveredFrame = (messages: number): Buffer => encodeNumberFrame(DELIVERED, messages)

export type MeshFrame =
  | { type: 'msg', subject: string, reply: string | undefined, headerBytes: number, data: Buffer, queues: string[] }
  | { type: 'interest', subject: string, queue: string, delta: number, seq: number }
  | { type: 'interest-ack', seq: number }
  | { type: 'delivered', messages: number }
  | { type: 'dropped', subjects: string[] }

/** Reassembles frames from a byte stream split anywhere. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0)

  push (chunk: Buffer, onFrame: (frame: MeshFrame) => void): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    let pos = 0
    while (buf.length - pos >= 4) {
      const length = buf.readUInt32BE(pos)
      if (buf.length - pos - 4 < length) break
      onFrame(decode(buf.subarray(pos + 4, pos + 4 + length)))
      pos += 4 + length
    }
    buf = buf.subarray(pos)
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf)
  }
}

function decode (f: Buffer): MeshFrame {
  let pos = 1
  const readStr = (): string => {
    const n = f.readUInt32BE(pos)
    const s = f.toString('latin1', pos + 4, pos + 4 + n)
    pos += 4 + n
    return s
  }
  if (f[0] === INTEREST) {
    const delta = f.readInt32BE(pos)
    const seq = f.readUInt32BE(pos + 4)
    pos += 8
    return { type: 'interest', delta, seq, subject: readStr(), queue: readStr() }
  }
  if (f[0] === INTEREST_ACK) return { type: 'interest-ack', seq: f.readUInt32BE(pos) }
  if (f[0] === DELIVERED) return { type: 'delivered', messages: f.readDoubleBE(pos) }
  if (f[0] === DROPPED) {
    const count = f.readUInt32BE(pos)
    pos += 4
    const subjects: string[] = []
    for (let i = 0; i < count; i++) subjects.push(readStr())
    return { type: 'dropped', subjects }
  }
  if (f[0] !== MSG) throw new Error(`unknown mesh frame type ${String(f[0])}`)
  const subject = readStr()
  const reply = readStr()
  const headerBytes = f.readUInt32BE(pos)
  const dataLength = f.readUInt32BE(pos + 4)
  pos += 8
  const data = f.subarray(pos, pos + dataLength)
  pos += dataLength
  const count = f.readUInt32BE(pos)
  pos += 4
  const queues: string[] = []
  for (let i = 0; i < count; i++) queues.push(readStr())
  return { type: 'msg', subject, reply: reply === '' ? undefined : reply, headerBytes: headerBytes === 0xffffffff ? -1 : headerBytes, data, queues }
}

export class WorkerMesh implements RouterLinks {
  /** JetStream requests stay on the worker that got them: each worker keeps the whole history. */
  readonly carriesJetStream = false
  readonly stats: MeshStats = {
    forwardedMsgs: 0,
    forwardedBytes: 0,
    receivedMsgs: 0,
    droppedMsgs: 0,
    conflatedMsgs: 0,
    heldValuesPastLimit: 0,
    resentFromCache: 0,
    linksBehind: 0,
    closedForMissedEvents: 0,
    interestAckTimeouts: 0,
    helloTimeouts: 0,
    localDeliveriesHeld: 0,
    localHoldTimeouts: 0,
    localFirstBias: 1
  }
  /** Interest changes announced so far; each INTEREST frame carries it, and peers acknowledge it. */
  interestSeq = 0
  /** PONGs (and the like) waiting for peers to apply interest up to `seq`. */
  private interestWaiters: Array<{ seq: number, settled: () => void, deadlineMs: number }> = []
  private interestTimer: NodeJS.Timeout | null = null
  private readonly outbound = new Map<number, Outbound>()
  /** Subscriptions here, by subject and queue: what the other workers are told. */
  private readonly localInterest = new Map<string, { subject: string, queue: string, members: number }>()
  /** Subscriptions on each other worker. */
  private readonly remote = new Map<number, PeerInterest>()
  private server: net.Server | null = null
  private readonly inbound = new Set<net.Socket>()
  /** This worker's connection to its own socket, and who published each frame in it, in order. */
  private loopback: Outbound | null = null
  private readonly fair: FairRelease<Client | null, MeshFrame & { type: 'msg' }>
  private releaseScheduled = false
  /** Work waiting for the loopback to catch up before it can wait its turn there (afterLocalPublishes). */
  private afterLoopbackCaughtUp: Array<() => void> = []
  private judgeScheduled = false
  private readonly judge = (): void => {
    this.judgeScheduled = false
    this.fair.judge()
    this.stats.localFirstBias = this.fair.bias
  }
  private releaseTimer: NodeJS.Timeout | null = null

  constructor (
    private readonly router: Router,
    readonly self: number,
    private readonly random: () => number = Math.random,
    private readonly maxQueuedBytes = DEFAULT_MESH_MAX_QUEUED_BYTES
  ) {
    router.links = this
    this.fair = new FairRelease(MAX_FAIR_HOLD_MS, random)
    // Each worker keeps the whole trade history (router.ts): every message on its subjects comes here.
    for (const stream of router.jetstream?.streamList ?? []) {
      for (const subject of stream.config.subjects) this.interestChanged(subject, undefined, 1)
    }
  }

  /** Starts accepting the other workers' connections on a Unix socket. */
  async listen (path: string): Promise<void> {
    rmSync(path, { force: true }) // left behind by a worker of this index that was killed
    const server = net.createServer((socket) => this.accept(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // exclusive: a Unix socket of this worker alone, not shared through the cluster primary.
      server.listen({ path, exclusive: true }, () => { server.off('error', reject); resolve() })
    })
  }

  /**
   * Connects to another worker's socket (again, after it was restarted), tells it our
   * subscriptions and gives it our last values; resolves once it has delivered them (its cache
   * holds them), so that a restarted worker is dealt clients only then.
   */
  async connectTo (peer: number, path: string): Promise<void> {
    this.outbound.get(peer)?.socket.destroy()
    const socket = net.connect({ path })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    const out = new Outbound(peer, socket)
    this.outbound.set(peer, out)
    socket.on('error', () => {})
    socket.on('close', () => {
      for (const w of out.deliveredWaiters.splice(0)) w.done() // nothing more to wait for
      if (this.outbound.get(peer) !== out) return
      this.outbound.delete(peer)
      this.settleInterest() // a peer that is gone holds nobody's PONG
    })
    // Who this is, then every subscription here, stamped with the current interest sequence:
    // a restarted peer acknowledges it once it knows everything.
    const hello = Buffer.allocUnsafe(4)
    hello.writeUInt32BE(this.self, 0)
    this.send(out, hello)
    for (const q of this.localInterest.values()) this.send(
      out,
      encodeInterestFrame(q.subject, q.queue, q.members, this.interestSeq)
    )
    // And every last value published here: a worker that was just (re)started has an empty
    // cache, and a client reconnecting to it must get the same snapshot as anywhere else. Sent
    // as a resend of them all, once the cache holds those still on their way round the
    // loopback: taken at once, it missed them, and the peer never had them
    // (reports/broker/mesh-hello.md). Newer values wait behind it meanwhile.
    const everything: Resend = { names: 'all', later: heldValues(), pending: 1, hello: true }
    out.resending = everything
    // Linked once the peer has routed them all: clients dealt to it before got a partial snapshot.
    const delivered = new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.stats.helloTimeouts++; resolve() }, HELLO_TIMEOUT_MS)
      const done = (): void => { clearTimeout(timer); resolve() }
      everything.sent = () => this.whenDelivered(out, out.sentMsgs, done)
      if (out.socket.destroyed) done()
      else out.socket.once('close', done)
    })
    this.afterLocalPublishes(() => this.resend(out, everything))
    await delivered
  }

  /** Calls `done` once the peer of `out` has said it delivered `count` message frames (or the link closed). */
  private whenDelivered (out: Outbound, count: number, done: () => void): void {
    if (out.delivered >= count || out.socket.destroyed) done()
    else out.deliveredWaiters.push({ count, done })
  }

  /** Connects to this worker's own socket: local publishes are delivered from it (see the opening comment). */
  async loopBack (path: string): Promise<void> {
    const socket = net.connect({ path })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    const out = new Outbound(this.self, socket)
    this.loopback = out
    socket.on('error', () => {})
    socket.on('close', () => {
      if (this.loopback === out) this.loopback = null
      this.fair.clear()
      const waiting = this.afterLoopbackCaughtUp // a loopback that is gone catches up no more
      this.afterLoopbackCaughtUp = []
      for (const run of waiting) setImmediate(run)
    })
    const hello = Buffer.allocUnsafe(4)
    hello.writeUInt32BE(this.self, 0)
    this.send(out, hello)
  }

  get peers (): number[] {
    return [...this.outbound.keys()]
  }

  // --- RouterLinks ---------------------------------------------------------------------

  interestChanged (subject: string, queue: string | undefined, delta: 1 | -1): void {
    const q = queue ?? ''
    const key = `${subject} ${q}`
    const entry = this.localInterest.get(key) ?? { subject, queue: q, members: 0 }
    entry.members += delta
    if (entry.members <= 0) this.localInterest.delete(key)
    else this.localInterest.set(key, entry)
    const frame = encodeInterestFrame(subject, q, delta, ++this.interestSeq)
    for (const out of this.outbound.values()) this.send(out, frame)
  }

  /**
   * Calls `settled` once every connected peer has acknowledged interest changes up to `seq`
   * (at once when they have). Peers apply INTEREST frames in order and acknowledge the newest
   * sequence they applied, so a PONG held on this makes SUB-then-PING as strong as on one
   * nats-server: nothing published anywhere after the PONG misses the subscription.
   */
  whenInterestSettled (seq: number, settled: () => void): void {
    if (this.interestSettled(seq)) return settled()
    this.interestWaiters.push({ seq, settled, deadlineMs: Date.now() + INTEREST_ACK_TIMEOUT_MS })
    this.interestTimer ??= setInterval(() => this.settleInterest(), INTEREST_ACK_TIMEOUT_MS / 4)
  }

  /** Has every connected peer applied interest changes up to `seq`? */
  interestSettled (seq: number): boolean {
    for (const out of this.outbound.values()) if (out.ackedInterestSeq < seq) return false
    return true
  }

  /** Releases the waiters whose interest every peer has applied, or whose time is up. */
  private settleInterest (): void {
    if (this.interestWaiters.length === 0) return
    const now = Date.now()
    const waiting: typeof this.interestWaiters = []
    const ready: Array<() => void> = []
    for (const w of this.interestWaiters) {
      if (this.interestSettled(w.seq)) ready.push(w.settled)
      else if (now >= w.deadlineMs) { this.stats.interestAckTimeouts++; ready.push(w.settled) } else waiting.push(w)
    }
    this.interestWaiters = waiting
    if (waiting.length === 0 && this.interestTimer !== null) {
      clearInterval(this.interestTimer)
      this.interestTimer = null
    }
    for (const settled of ready) settled()
  }

  hasInterest (subject: string): boolean {
    for (const peer of this.remote.values()) {
      const m = peer.trie.match(subject)
      if (m.plain.length > 0 || m.groups.length > 0) return true
    }
    return false
  }

  published (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    localGroups: readonly (readonly Subscription[])[],
    lastValue: boolean
  ): ReadonlySet<string> | null {
    return this.forward(subject, reply, data, headerBytes, localGroups, lastValue, null).elsewhere
  }

  /**
   * Sends a local publish to the peers that want it; returns the queue groups served elsewhere
   * and the frame without queue names, if one was encoded (the loopback reuses it). `waits`
   * collects the peers whose subscribers get it, with the DELIVERED count that covers it.
   */
  private forward (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    localGroups: readonly (readonly Subscription[])[],
    lastValue: boolean,
    waits: Array<{ link: DeliveryLink, index: number }> | null
  ): { elsewhere: ReadonlySet<string> | null, plainFrame: Buffer | null } {
    let elsewhere: Set<string> | null = null
    let assigned: Map<number, string[]> | null = null
    let interested: Set<number> | null = null
    // Members of each matching queue group, here (-1) and on each other worker.
    let candidates: Map<string, Array<{ worker: number, members: number }>> | null = null
    for (const [worker, peer] of this.remote) {
      const m = peer.trie.match(subject)
      if (m.plain.length > 0) (interested ??= new Set()).add(worker)
      for (const group of m.groups) {
        if (candidates === null) {
          candidates = new Map()
          for (const members of localGroups) candidates.set(
            (members[0] as Subscription).queue as string,
            [{ worker: -1, members: members.length }]
          )
        }
        const queue = (group[0] as RemoteInterest).queue as string
        const members = group.reduce((n, g) => n + g.members, 0)
        let list = candidates.get(queue)
        if (list === undefined) { list = []; candidates.set(queue, list) }
        list.push({ worker, members })
      }
    }
    if (candidates !== null) {
      for (const [queue, list] of candidates) {
        const total = list.reduce((n, c) => n + c.members, 0)
        let pick = this.random() * total
        let chosen = list[list.length - 1] as { worker: number }
        for (const c of list) { if ((pick -= c.members) < 0) { chosen = c; break } }
        if (chosen.worker === -1) continue
        ;(elsewhere ??= new Set()).add(queue)
        assigned ??= new Map()
        const names = assigned.get(chosen.worker) ?? []
        names.push(queue)
        assigned.set(chosen.worker, names)
      }
    }
    let frame: Buffer | null = null
    for (const out of this.outbound.values()) {
      const queues = assigned?.get(out.peer)
      const wanted = queues !== undefined || interested?.has(out.peer) === true
      if (!lastValue && !wanted) continue // nobody there wants it
      let sent: boolean
      if (queues !== undefined) {
        sent = this.sendMessage(out, encodeMessageFrame(subject, reply, data, headerBytes, queues), subject, lastValue)
      } else {
        frame ??= encodeMessageFrame(subject, reply, data, headerBytes, [])
        sent = this.sendMessage(out, frame, subject, lastValue)
      }
      if (sent && wanted && waits !== null) waits.push({ link: out, index: out.sentMsgs })
    }
    return { elsewhere, plainFrame: frame }
  }

  publishAll (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    localGroups: readonly (readonly Subscription[])[],
    localPlain: boolean,
    lastValue: boolean,
    origin: Client | null
  ): boolean {
    const loopback = this.loopback
    if (loopback === null || loopback.socket.destroyed) return false
    const waits: Array<{ link: DeliveryLink, index: number }> = []
    const { elsewhere, plainFrame } = this.forward(subject, reply, data, headerBytes, localGroups, lastValue, waits)
    const queues: string[] = []
    for (const members of localGroups) {
      const queue = (members[0] as Subscription).queue as string
      if (elsewhere?.has(queue) !== true) queues.push(queue)
    }
    // Last values come back even with nobody here listening: this worker's cache keeps them.
    if (!localPlain && queues.length === 0 && !lastValue) return true
    const frame = queues.length === 0 && plainFrame !== null
      ? plainFrame
      : encodeMessageFrame(subject, reply, data, headerBytes, queues)
    // Past the limit the loopback is behind, as a peer's link is (sendMessage): its last values
    // wait conflated, and this worker's subscribers to the events it missed are closed, saying
    // so, when it catches up (caughtUp). They were dropped without a word before.
    const behind = this.behindNow(loopback)
    if (behind !== null) {
      this.hold(behind, frame, subject, lastValue, false)
      return true
    }
    // Nobody here listens (the frame only keeps this worker's cache current): nothing to be fair about.
    this.fair.sent(origin, !localPlain && queues.length === 0 ? [] : waits, this.router.now())
    this.send(loopback, frame)
    return true
  }

  // --- sockets -------------------------------------------------------------------------

  /**
   * A message for a peer. A peer whose link holds more than maxQueuedBytes is behind, and is
   * treated as a slow consumer of this worker: its last values are conflated (the newest per
   * subject waits), its events are not sent but remembered by subject, and when its link drains
   * it is first told which event subjects it missed (it closes the subscribers who missed them,
   * with the slow-consumer reason), then given the newest values. What it holds is bounded: the
   * newest frame per last-value subject up to the byte limit, then names (HeldValues), and a
   * capped set of event subject names. This worker's loopback is held back the same way
   * (publishAll), but keeps its frames.
   */
  private sendMessage (out: Outbound, frame: Buffer, subject: string, lastValue: boolean): boolean {
    // The peer is gone: its clients reconnect elsewhere.
    if (out.socket.destroyed) { this.stats.droppedMsgs++; return false }
    const behind = this.behindNow(out)
    if (behind !== null) {
      this.hold(behind, frame, subject, lastValue)
      return false
    }
    const resend = out.resending
    if (lastValue && resend !== null && (resend.names === 'all' || resend.names.has(subject))) {
      this.holdValue(resend.later, frame, subject, true) // goes after the cache's older value
      return false
    }
    this.sendMessageFrame(out, frame)
    return true
  }

  /** What `out` is behind on, if its link holds more than maxQueuedBytes now or did and has not drained; else null. */
  private behindNow (out: Outbound): Behind | null {
    if (out.behind === null && out.bytes + out.socket.writableLength > this.maxQueuedBytes) {
      out.behind = { values: heldValues(), missed: new Set(), missedAll: false }
      this.stats.linksBehind++
      out.socket.once('drain', () => this.caughtUp(out))
    }
    return out.behind
  }

  /** A message for a link that is behind: a last value waits conflated, an event is remembered by subject. */
  private hold (behind: Behind, frame: Buffer, subject: string, lastValue: boolean, byName = true): void {
    if (lastValue) {
      this.holdValue(behind.values, frame, subject, byName)
      return
    }
    this.stats.droppedMsgs++
    if (behind.missedAll) return
    behind.missed.add(subject)
    if (behind.missed.size > MAX_DROPPED_SUBJECTS) { behind.missedAll = true; behind.missed.clear() }
  }

  /** Keeps the newest `frame` of `subject` in `held`, by name past the limit when `byName` (see HeldValues). */
  private holdValue (held: HeldValues, frame: Buffer, subject: string, byName: boolean): void {
    if (held.all) return
    if (held.names !== null) {
      if (held.names.has(subject)) this.stats.conflatedMsgs++
      else held.names.add(subject)
      if (held.names.size > MAX_RESENT_SUBJECTS) { held.all = true; held.names = null }
      return
    }
    const before = held.frames.get(subject)
    if (before !== undefined) { this.stats.conflatedMsgs++; held.bytes -= before.length }
    held.frames.set(subject, frame)
    held.bytes += frame.length
    if (!byName || held.bytes <= this.maxQueuedBytes) return
    this.stats.heldValuesPastLimit++
    held.names = new Set(held.frames.keys())
    held.frames.clear()
    held.bytes = 0
  }

  /** Values held by name for `out` go from the cache once it holds every value published here so far (Resend). */
  private startResend (out: Outbound, held: HeldValues): void {
    if (held.names === null && !held.all) return
    let resend = out.resending
    if (resend === null) {
      resend = { names: held.all ? 'all' : held.names as Set<string>, later: heldValues(), pending: 0, hello: false }
      out.resending = resend
    } else if (held.all) {
      resend.names = 'all'
    } else if (resend.names !== 'all') {
      for (const name of held.names as Set<string>) resend.names.add(name)
    }
    resend.pending++
    const started = resend
    this.afterLocalPublishes(() => this.resend(out, started))
  }

  private resend (out: Outbound, resend: Resend): void {
    if (out.resending !== resend || out.socket.destroyed) return
    if (--resend.pending > 0) return // a later one sends them, the cache more current then
    out.resending = null
    const cache = this.router.lastValues
    const values = resend.names === 'all' ? cache.snapshot('>') : resend.names
    const peersOwn = resend.hello ? publisherOfWorker(out.peer) : 0
    for (const entry of values) {
      const msg = typeof entry === 'string' ? cache.get(entry) : entry
      if (msg === undefined) continue // gone
      if (msg.publisherCid < 0 && msg.publisherCid !== peersOwn) continue // it reaches the peer from its own worker
      this.stats.resentFromCache++
      this.sendCachedValue(out, msg)
    }
    for (const [subject, frame] of resend.later.frames) this.sendMessage(out, frame, subject, true)
    resend.sent?.()
    this.startResend(out, resend.later) // those that came past the limit meanwhile: another round
  }

  /**
   * Runs `run` once every message published here so far has been delivered here, so this
   * worker's cache holds every value among them: they reach it round the loopback, behind any it
   * holds back (caughtUp), in publish order (fair-release.ts). A client's PONG and UNSUB after
   * its publishes wait on this (client.ts), as one nats-server handles a client's commands in order.
   */
  afterLocalPublishes (run: () => void): void {
    const loopback = this.loopback
    if (loopback === null || loopback.socket.destroyed) { setImmediate(run); return } // routed here at once
    if (loopback.behind !== null) { this.afterLoopbackCaughtUp.push(run); return }
    this.fair.afterEarlier(run, this.router.now())
    this.scheduleRelease()
  }

  /** A value of this worker's cache, as a message frame for a peer (one that was behind, or new). */
  private sendCachedValue (out: Outbound, msg: RoutedMessage): void {
    const content = msg.body.subarray(0, msg.body.length - 2)
    this.sendMessage(out, encodeMessageFrame(msg.subject, msg.reply, content, msg.headerBytes, []), msg.subject, true)
  }

  private sendMessageFrame (out: Outbound, frame: Buffer): void {
    this.stats.forwardedMsgs++
    this.stats.forwardedBytes += frame.length
    out.sentMsgs++
    this.send(out, frame)
  }

  /** The peer's link drained: tell it what it missed, then send the newest values held for it. */
  private caughtUp (out: Outbound): void {
    const behind = out.behind
    if (behind === null || out.socket.destroyed) return
    out.behind = null
    const missed = behind.missedAll ? ['>'] : [...behind.missed]
    if (out !== this.loopback) {
      if (missed.length > 0) this.send(out, encodeDroppedFrame(missed))
      // Through sendMessage: a subject whose older value a resend still owes waits behind it.
      for (const [subject, frame] of behind.values.frames) this.sendMessage(out, frame, subject, true)
      this.startResend(out, behind.values)
      return
    }
    // This worker's own subscribers: closed here (a peer is told by a frame); the held values go
    // round the loopback as any local publish, with no peer to wait for (their publishers are
    // not kept: a no-echo publisher gets its own held value back).
    if (missed.length > 0) {
      this.stats.closedForMissedEvents += this.router.closeSubscribersOf(missed, 'SLOW_CONSUMER_WORKER_LOOPBACK', 'slow consumer (worker loopback)')
    }
    const now = this.router.now()
    for (const frame of behind.values.frames.values()) {
      this.fair.sent(null, [], now)
      this.send(out, frame)
    }
    const waiting = this.afterLoopbackCaughtUp
    this.afterLoopbackCaughtUp = []
    for (const run of waiting) this.afterLocalPublishes(run)
  }

  private send (out: Outbound, frame: Buffer): void {
    // Interest news and control frames always go (they are small, and a lost one would leave
    // the workers disagreeing about who listens).
    if (out.socket.destroyed) return
    out.chunks.push(frame)
    out.bytes += frame.length
    if (!out.scheduled) {
      out.scheduled = true
      setImmediate(() => {
        out.scheduled = false
        const chunks = out.chunks
        out.chunks = []
        out.bytes = 0
        if (out.socket.destroyed || chunks.length === 0) return
        const flowing = out.socket.write(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks))
        // Behind, but the kernel took it all: no 'drain' will come, so it has caught up now.
        if (out.behind !== null && flowing) setImmediate(() => this.caughtUp(out))
      })
    }
  }

  private accept (socket: net.Socket): void {
    this.inbound.add(socket)
    socket.setNoDelay(true)
    let peer = -1
    const reader = new FrameReader()
    let head: Buffer | null = Buffer.alloc(0)
    /** Message frames read from this peer, and whether saying so is already scheduled. */
    let received = 0
    let ackScheduled = false
    socket.on('data', (chunk: Buffer) => {
      if (head !== null) {
        // The first four bytes say which worker this is.
        head = Buffer.concat([head, chunk])
        if (head.length < 4) return
        peer = head.readUInt32BE(0)
        if (peer !== this.self) this.remote.set(peer, new PeerInterest())
        chunk = head.subarray(4)
        head = null
      }
      if (peer === this.self) {
        reader.push(chunk, (frame) => this.onLoopbackFrame(frame))
        return
      }
      const before = received
      const clockTaken = this.router.beginInput()
      try {
        reader.push(chunk, (frame) => {
          if (frame.type === 'msg') received++
          this.onFrame(peer, frame)
        })
      } finally {
        if (clockTaken) this.router.endInput()
      }
      // Say what was delivered once this worker's flush turn has written it: that turn was
      // scheduled (setImmediate) while these frames were routed, so it runs before this.
      if (received !== before && !ackScheduled) {
        ackScheduled = true
        setImmediate(() => {
          ackScheduled = false
          const back = this.outbound.get(peer)
          if (back !== undefined && !back.socket.destroyed) back.socket.write(encodeDeliveredFrame(received))
        })
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.inbound.delete(socket)
      if (peer !== this.self) this.remote.delete(peer)
    })
  }

  /**
   * A local publish back from the loopback: released in publish order once the peers drawn to
   * go first have delivered it (fair-release.ts), at the earliest one event-loop step later.
   * (Frames are views of a chunk the socket handed over, which nothing reuses.)
   */
  private onLoopbackFrame (frame: MeshFrame): void {
    if (frame.type !== 'msg') return
    this.fair.arrived(frame)
    this.scheduleRelease()
  }

  /** releaseLoopback in the next event-loop step, once however often it is asked for before. */
  private scheduleRelease (): void {
    if (this.releaseScheduled) return
    this.releaseScheduled = true
    setImmediate(this.releaseLoopback)
  }

  private readonly deliverLoopback = (origin: Client | null, frame: MeshFrame & { type: 'msg' }): void => {
    this.router.publishFromLoopback(
      origin,
      frame.subject,
      frame.reply,
      frame.data,
      frame.headerBytes,
      frame.queues.length === 0 ? NO_QUEUES : new Set(frame.queues)
    )
  }

  private readonly releaseLoopback = (): void => {
    this.releaseScheduled = false
    const now = this.router.now()
    const clockTaken = this.router.beginInput()
    let waiting: boolean
    try {
      waiting = this.fair.release(now, this.deliverLoopback)
    } finally {
      if (clockTaken) this.router.endInput()
    }
    this.stats.localDeliveriesHeld = this.fair.waited
    this.stats.localHoldTimeouts = this.fair.timedOut
    if (this.fair.judging && !this.judgeScheduled) {
      // After the flush turn that release just scheduled, and the DELIVERED counts read before it.
      this.judgeScheduled = true
      setImmediate(() => setImmediate(this.judge))
    }
    const deadline = this.fair.deadline()
    if (!waiting || deadline === null || this.releaseTimer !== null) return
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null
      this.releaseLoopback()
    }, Math.max(1, deadline - now + 1))
  }

  private onFrame (peer: number, frame: MeshFrame): void {
    if (frame.type === 'msg') {
      this.stats.receivedMsgs++
      this.router.publishFromLink(
        frame.subject,
        frame.reply,
        frame.data,
        frame.headerBytes,
        frame.queues.length === 0 ? NO_QUEUES : new Set(frame.queues),
        true,
        publisherOfWorker(peer)
      )
      return
    }
    if (frame.type === 'dropped') {
      this.stats.closedForMissedEvents += this.router.closeSubscribersOf(frame.subjects, 'SLOW_CONSUMER_WORKER_LINK', 'slow consumer (worker link)')
      return
    }
    if (frame.type === 'delivered') {
      const out = this.outbound.get(peer)
      if (out !== undefined && frame.messages > out.delivered) {
        out.delivered = frame.messages
        if (out.deliveredWaiters.length > 0) {
          const waiting = out.deliveredWaiters
          out.deliveredWaiters = waiting.filter((w) => w.count > frame.messages)
          for (const w of waiting) if (w.count <= frame.messages) w.done()
        }
      }
      if (this.fair.size > 0) this.releaseLoopback()
      return
    }
    if (frame.type === 'interest-ack') {
      const out = this.outbound.get(peer)
      if (out !== undefined && frame.seq > out.ackedInterestSeq) out.ackedInterestSeq = frame.seq
      this.settleInterest()
      return
    }
    this.remote.get(peer)?.change(frame.subject, frame.queue, frame.delta)
    // Applied: say so to the peer (on this worker's own link to it), so its PONGs can go.
    const back = this.outbound.get(peer)
    if (back !== undefined) this.send(back, encodeInterestAckFrame(frame.seq))
  }

  async close (): Promise<void> {
    this.loopback?.socket.destroy()
    if (this.releaseTimer !== null) clearTimeout(this.releaseTimer)
    this.releaseTimer = null
    if (this.interestTimer !== null) clearInterval(this.interestTimer)
    this.interestTimer = null
    for (const w of this.interestWaiters.splice(0)) w.settled()
    for (const out of this.outbound.values()) out.socket.destroy()
    for (const s of this.inbound) s.destroy()
    if (this.server !== null) await new Promise<void>((resolve) => this.server?.close(() => resolve()))
    if (this.router.links === this) this.router.links = null
  }
}
