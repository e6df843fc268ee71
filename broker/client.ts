/**
 * One client connection: its protocol state (who it is, its CONNECT options, subscriptions,
 * pings), its parser and its outbox. Around it:
 * - `client-host.ts`: its edges, the socket (`Transport`) and the router (`ClientHost`);
 * - `client-writer.ts`: its socket writes, one per flush turn, through its outbox (`outbox.ts`:
 *   what waits, and how a held last value supersedes an older one), switched to conflating
 *   and back by `flow-control.ts` (when it is too far behind to be written to, and when not);
 * - `auth.ts` (ConnectionRights) and `rate-limit.ts`: what it may publish and receive, and how fast;
 * - `keep-alive.ts` and `reply-order.ts`: the server's PINGs, and when a PONG (and the replies after it) may go.
 */
import { CONFLATED_HEADER } from '../lib/headers.ts'
import { ConnectionRights, UNRESTRICTED, type AuthResult } from './auth.ts'
import type { ClientHost, PublishSubject, Transport } from './client-host.ts'
import { DEFAULT_CONNECT_OPTIONS, connectOptions, parseConnectJson, type ConnectOptions } from './connect-options.ts'
import { ProtocolError, errLine, type CloseReason, type ProtocolErrorCode } from './errors.ts'
import { FairnessRecord, type FanoutMember } from './fanout.ts'
import { HeaderBlockScan } from './header-block.ts'
import { ClientWriter, type PendingLimits } from './client-writer.ts'
import { ProtocolParser, type ProtocolHandler } from './parser.ts'
import { KeepAlive } from './keep-alive.ts'
import { ReplyOrder } from './reply-order.ts'
import { ReadGate } from './input-pacing.ts'
import { InboundRateLimit } from './rate-limit.ts'
import { SubjectClass } from './subject-classes.ts'
import { isValidQueueName, isValidSubject } from './subjects.ts'
import { Subscription } from './subscription.ts'
import { withoutHeader, type RoutedMessage } from './wire.ts'


const PONG = Buffer.from('PONG\r\n')
/** A SUB whose snapshot list was computed afresh counts one more operation per this many subjects scanned. */
export const SUBJECTS_SCANNED_PER_SUB_OP = 10
/** A scan of this many subjects or more ends the connection's turn: others are served before its next operation. */
export const SCAN_ENDS_TURN = 1000
const OK = Buffer.from('+OK\r\n')

/** Every connection's HPUBs are scanned by one scanner, its facts read at once (publish). */
const headerScan = new HeaderBlockScan()

export class Client implements ProtocolHandler, FanoutMember {
  readonly parser: ProtocolParser
  readonly writer: ClientWriter
  readonly subscriptions = new Map<string, Subscription>()
  readonly fairness = new FairnessRecord()
  readonly acceptedAtMs: number
  queuedForFlush = false

  options: ConnectOptions = DEFAULT_CONNECT_OPTIONS
  connected = false
  /** Who it is and what it may do; decided before its first command is routed. */
  rights: ConnectionRights = UNRESTRICTED
  readonly rateLimit: InboundRateLimit
  /**
   * SUBs and UNSUBs per second: churning subscriptions costs the broker allocation on every one,
   * and a flood of them grew its heap by 80 MiB in 3 s; past the limit, reads pause as above.
   */
  readonly subscriptionOps: InboundRateLimit
  isClosed = false
  closeReason: CloseReason | null = null
  closedAtMs = 0

  readonly keepAlive = new KeepAlive()
  private readonly replies: ReplyOrder

  inMsgs = 0
  /** inMsgs when the latest command ordered behind this client's publishes ran (afterOwnPublishes). */
  private orderedUpTo = 0
  /** Commands waiting for this client's publishes to be delivered here (afterOwnPublishes). */
  private ordersWaiting = 0
  /** Bytes read from the socket, protocol and all. */
  inBytes = 0
  /** Headers and payloads of the messages it published, in bytes (nats-server's in_bytes). */
  inPayloadBytes = 0
  private readonly reads: ReadGate
  /** The parser paused at its operations budget until this connection's next turn. */
  private parserWaitsForTurn = false
  /** The input pacing paused this connection's reads, and has not resumed them. */
  private pacingPaused = false
  /**
   * A PING's PONG waits, first for the client's own publishes, then for the other workers: the
   * rest of the input waits behind it (holdInputForPong).
   */
  private pongHold: 'behind own publishes' | 'behind interest' | null = null
  /** A password check is running: the parser holds the input until it is done. */
  private authenticating = false
  get outbox (): ClientWriter['outbox'] { return this.writer.outbox }

  constructor (
    readonly cid: number,
    readonly transport: Transport,
    private readonly host: ClientHost,
    limits: { maxControlLineBytes: number, maxPayloadBytes: number, wsMaxMessageBytes: number }
      & Required<PendingLimits>
  ) {
    // A WebSocket message comes whole: paused mid-way (a turn's budget, a rate limit), the parser holds the rest.
    const parserLimits = transport.kind === 'websocket' ? { ...limits, maxChunkBytes: limits.wsMaxMessageBytes } : limits
    this.parser = new ProtocolParser(this, parserLimits)
    this.writer = new ClientWriter(transport, host, {
      maxPendingEventBytes: limits.maxPendingEventBytes,
      maxPendingLastValueBytes: limits.maxPendingLastValueBytes
    }, {
      dirty: () => host.markDirty(this),
      conflating: (cause) => cause !== null ? host.startedConflating(this, cause) : host.stoppedConflating(this),
      failed: () => this.transportClosed('transport error')
    })
    this.acceptedAtMs = host.now()
    this.reads = new ReadGate(transport)
    this.rateLimit = new InboundRateLimit(host.maxInMsgsPerSec)
    this.subscriptionOps = new InboundRateLimit(host.maxSubscriptionOpsPerSec)
    this.replies = new ReplyOrder(host, (line) => { this.control(line); return !this.isClosed }, PONG, () => {
      if (this.pongHold === 'behind interest') this.releaseInputForPong()
    })
  }

  /** Bytes from the socket. */
  receive (chunk: Buffer): void {
    if (this.isClosed) return
    this.inBytes += chunk.length
    const clockTaken = this.host.beginInput()
    try {
      this.parser.feed(chunk)
    } finally {
      if (clockTaken) this.host.endInput()
    }
    if (this.reads.spent(chunk.length) && !this.isClosed) this.host.readBudgetSpent(this)
  }

  /** The input pacing pauses this connection's reads (input-pacing.ts). */
  pauseReading (): void {
    this.pacingPaused = true
    this.reads.pause()
  }

  resumeReading (): void {
    this.pacingPaused = false
    this.resumeIfFree()
  }

  /** Reads and parses again, unless the pacing or a held reply still holds them. */
  private resumeIfFree (): void {
    if (this.isClosed || this.pacingPaused || this.pongHold !== null) return
    this.reads.resume()
    if (this.parserWaitsForTurn) {
      this.parserWaitsForTurn = false
      if (!this.authenticating) this.parser.resume()
    }
  }

  /**
   * A PING whose PONG will wait for the other workers to apply this client's SUB or UNSUB
   * (reply-order.ts) holds what the client sent after it until the PONG goes, as one
   * nats-server handles a client's commands in order. Without this, a message it published
   * after its PING reached it before the PONG (reports/broker/protocol-diff.md).
   */
  private holdInputForPong (): void {
    this.pongHold = 'behind own publishes'
    this.parserWaitsForTurn = true
    this.parser.pause()
    this.reads.pause()
  }

  /** The held PONG went: the input goes on a turn later, out of the mesh's callback. */
  private readonly releaseInputForPong = (): void => {
    this.pongHold = null
    setImmediate(() => { this.resumeIfFree() })
  }

  /** The parser handed out its operations for this turn and holds the rest of the input. */
  opsSpent (): void {
    this.parserWaitsForTurn = true
    this.host.readBudgetSpent(this)
  }

  // --- ProtocolHandler ---------------------------------------------------------------

  connect (json: string): void {
    const o = parseConnectJson(json)
    if (o === null) return this.error('BAD_CONNECT')
    this.options = connectOptions(o)
    if (this.options.noResponders && !this.options.headers) return this.error('NO_RESPONDERS_REQUIRES_HEADERS')
    this.outbox.headers = this.options.headers
    if (this.connected) return this.ok() // a repeated CONNECT updates options; identity stays
    const result = this.host.authenticate(o, this.transport.remoteAddress)
    if (!(result instanceof Promise)) return this.authenticated(result)
    // A password hash is being checked: hold everything the client sends after CONNECT until
    // it is known who the client is.
    this.parser.pause()
    this.authenticating = true
    result.then((r) => {
      this.authenticating = false
      if (this.isClosed) return
      this.authenticated(r)
      if (!this.isClosed && !this.parserWaitsForTurn) this.parser.resume()
    }, () => this.closeWith('AUTHORIZATION_VIOLATION', 'authorization violation'))
  }

  private authenticated (result: AuthResult): void {
    if (!result.ok) return this.authorizationViolation()
    this.adopt(result)
    this.ok()
  }

  private adopt (result: AuthResult & { ok: true }): void {
    this.rights = new ConnectionRights(result.user, result.permissions, this.host)
    this.connected = true
    this.keepAlive.start(this.host.now())
  }

  private authorizationViolation (): void {
    this.host.protocolError(this, 'AUTHORIZATION_VIOLATION')
    this.closeWith('AUTHORIZATION_VIOLATION', 'authorization violation')
  }

  /**
   * Is a command allowed yet? Before CONNECT, as nats-server decides on the first byte that is
   * not a CONNECT: without authorization anyone may go on; with a no-auth user the client
   * becomes that user, permissions and all; otherwise it is an authorization violation and the
   * connection closes. Nothing is routed before this is decided.
   */
  private admitted (): boolean {
    if (this.connected) return true
    const result = this.host.admitWithoutConnect()
    if (result === null || !result.ok) {
      this.authorizationViolation()
      return false
    }
    if (result.user !== null || result.permissions !== null) this.adopt(result)
    return true
  }

  /** The checks every publish passes before it is routed; false when it was refused (and the client told why). */
  private admitPublish (facts: PublishSubject, reply: string | undefined): boolean {
    const subject = facts.subject
    // Routed to nobody, pedantic or not; a pedantic client is told, as by nats-server 2.9. It
    // matches nobody to a subject with an empty token too, but delivers one with a wildcard token
    // as a literal: tickfan does not (a cached `quote.*` would be no quote at all). As there, the
    // publish is still checked and, in verbose mode, acknowledged after the -ERR.
    if (!facts.publishable && this.options.pedantic) this.error('INVALID_PUBLISH_SUBJECT')
    // The clock is read only where it decides something: this runs for every message.
    const refusal = this.rights.publishRefusal(subject, reply, this.host.now)
    if (refusal !== null) { this.error(refusal, refusal === 'PERMISSIONS_REPLY' ? `"${reply}"` : `to "${subject}"`); return false }
    if (!facts.publishable) {
      this.ok()
      return false
    }
    // Past the inbound rate limit its reads pause until the window ends; nothing is dropped.
    if (!this.rateLimit.admit(this.host.now)) this.host.throttle(this, this.rateLimit.windowEndsAtMs)
    return true
  }

  pub (subject: string, reply: string | undefined, payload: Buffer, subjectKey: number): void {
    this.publish(subject, subjectKey, reply, payload, 0, false)
  }

  hpub (subject: string, reply: string | undefined, headerBytes: number, data: Buffer, subjectKey: number): void {
    this.publish(subject, subjectKey, reply, data, headerBytes, true)
  }

  private publish (
    subject: string,
    subjectKey: number,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    hpub: boolean
  ): void {
    this.inMsgs++
    this.inPayloadBytes += data.length
    if (!this.admitted()) return
    if (hpub && !this.options.headers) return this.error('HEADERS_NOT_NEGOTIATED')
    // A block no client could read is refused (header-block.ts); the scan also reads Tickfan-Seq
    // and whether a Tickfan-Conflated line is there, taken at once (the scanner is shared).
    let sequence: number | undefined | null = null
    let conflated = false
    if (headerBytes > 0) {
      const problem = headerScan.check(data, headerBytes)
      if (problem !== null) return this.error('INVALID_HEADER_BLOCK', `(${problem})`)
      sequence = headerScan.sequence
      conflated = headerScan.conflated
    }
    // One lookup per message gives the subject's validity, class and subscribers (router.ts).
    const facts = this.host.subjectFacts(subject, subjectKey)
    if (!this.admitPublish(facts, reply)) return
    if (conflated) {
      // Only the broker says what a subscriber missed: a published Tickfan-Conflated is taken out.
      const cleaned = withoutHeader(data, headerBytes, CONFLATED_HEADER)
      if (cleaned !== null) ({ data, headerBytes } = cleaned)
    }
    this.ok() // nats-server acknowledges before routing: +OK precedes an echoed MSG
    this.host.publish(this, facts, reply, data, headerBytes, sequence)
  }

  sub (subject: string, queue: string | undefined, sid: string): void {
    if (!this.admitted()) return
    this.paceSubscriptionOps()
    // nats-server's order: permission, the limit, a duplicate sid (ignored, whatever its
    // subject), then the subject's validity.
    if (!this.rights.maySubscribe(subject, queue)) {
      return this.error('PERMISSIONS_SUBSCRIBE', queue === undefined ? `to "${subject}"` : `to "${subject}" using queue "${queue}"`)
    }
    if (this.subscriptions.size >= this.host.maxSubscriptionsPerConnection) return this.error('MAX_SUBSCRIPTIONS')
    if (this.subscriptions.has(sid)) return this.ok()
    if (!isValidSubject(subject)) return this.error('INVALID_SUBJECT')
    if (queue !== undefined && !isValidQueueName(queue)) return this.error('INVALID_SUBJECT')
    const sub = new Subscription(this, subject, queue, sid)
    this.subscriptions.set(sid, sub)
    if (this.ownPublishesOutstanding()) {
      sub.afterOwnInFlight = true
      this.afterOwnPublishes(() => { sub.afterOwnInFlight = false })
    }
    this.ok()
    const scanned = this.host.subscribe(sub)
    this.replies.interestChanged()
    if (scanned >= SUBJECTS_SCANNED_PER_SUB_OP) this.chargeScan(scanned)
  }

  /**
   * The SUB's snapshot scanned `scanned` cached subjects (a wildcard's list computed afresh):
   * that work counts against the SUB and UNSUB rate, one operation per
   * SUBJECTS_SCANNED_PER_SUB_OP, and a large scan ends this connection's turn. Without it one
   * client that put a new subject in the cache before each `SUB quote.>` held every other
   * client 0.37-0.75 s at 100,000 subjects (reports/broker/snapshot-churn.md).
   */
  private chargeScan (scanned: number): void {
    if (!this.paceSubscriptionOps(Math.floor(scanned / SUBJECTS_SCANNED_PER_SUB_OP))) return
    if (scanned < SCAN_ENDS_TURN) return
    this.holdParser()
    this.host.readBudgetSpent(this)
  }

  /** The rest of what this client sent waits until its reads resume (resumeReading). */
  private holdParser (): void {
    this.parser.pause()
    this.parserWaitsForTurn = true
  }

  unsub (sid: string, max: number | undefined): void {
    if (!this.admitted()) return
    this.paceSubscriptionOps()
    const sub = this.subscriptions.get(sid)
    if (sub !== undefined) {
      // The sid is free at once (a SUB after this UNSUB may take it again); the subscription
      // still gets what this client published before, as from one nats-server (afterOwnPublishes).
      if (max === undefined || max <= 0) this.subscriptions.delete(sid)
      this.afterOwnPublishes(() => this.unsubscribe(sub, max))
    }
    this.ok()
  }

  private unsubscribe (sub: Subscription, max: number | undefined): void {
    if (sub.closed) return
    if (max !== undefined && max > 0 && sub.delivered < max) sub.max = max
    else this.dropSubscription(sub)
    this.replies.interestChanged()
  }

  /**
   * The PONG comes after every message this client published before its PING has been delivered
   * to this worker's subscribers (its own included), and once its SUBs and UNSUBs are in force on
   * every worker (reply-order.ts): what `flush()` promises in every NATS client.
   */
  ping (): void {
    if (!this.admitted()) return
    // The SUBs and UNSUBs before this PING, not those read while it waits for own publishes.
    const seq = this.replies.sequence
    const holds = !this.replies.settled
    if (holds) this.holdInputForPong()
    this.afterOwnPublishes(() => { this.answerPing(seq, holds) })
  }

  /** `holds`: this PING holds the input (an earlier one answered now must not release it). */
  private answerPing (seq: number, holds: boolean): void {
    this.replies.ping(seq)
    if (!holds || this.pongHold !== 'behind own publishes') return
    if (this.replies.holds) this.pongHold = 'behind interest'
    else this.releaseInputForPong()
  }

  /**
   * Runs `run` once every message this client has published so far has reached this worker's
   * subscribers, and after every command already waiting so; at once when none is outstanding.
   * On one worker a publish is delivered before the next command is read, so this is at once;
   * on several a local publish comes back to its worker through the mesh first (worker-mesh.ts),
   * and without this wait a PONG or an UNSUB overtook the client's own messages.
   */
  private afterOwnPublishes (run: () => void): void {
    if (!this.ownPublishesOutstanding()) return run()
    const upTo = this.inMsgs
    this.ordersWaiting++
    this.host.afterLocalPublishes(() => {
      this.ordersWaiting--
      this.orderedUpTo = upTo
      run()
    })
  }

  /** Whether this client has published since the last command ordered behind its publishes, or one still waits. */
  private ownPublishesOutstanding (): boolean {
    return this.inMsgs !== this.orderedUpTo || this.ordersWaiting > 0
  }

  pong (): void {
    if (!this.admitted()) return
    const now = this.host.now()
    this.keepAlive.answered(now)
    this.writer.acknowledged()
  }

  /** A protocol error: send nats-server's text; close if the error is fatal. */
  error (code: ProtocolErrorCode, detail?: string): void {
    this.host.protocolError(this, code)
    if (ProtocolError[code].close) {
      // Nothing after the bad input is read. What came before it is answered first, its own
      // messages and replies included, as nats-server flushes a connection it closes for a
      // protocol error; before, they were dropped (closeWith, reports/broker/protocol-diff.md).
      this.parser.stop()
      this.afterOwnPublishes(() => { this.replies.afterReplies(() => { this.closeWith(code, 'protocol error', detail) }) })
      return
    }
    const line = Buffer.from(errLine(code, detail))
    this.afterOwnPublishes(() => { this.replies.reply(line) })
  }

  // --- delivery ------------------------------------------------------------------------

  /**
   * Queues `msg` for `sub`. Returns true when this client now holds more undelivered events than
   * holdBackEventBytes: the router then holds the publisher back (input-pacing.ts).
   */
  deliver (sub: Subscription, msg: RoutedMessage): boolean {
    if (this.isClosed || sub.closed) return false
    const rights = this.rights // unrestricted (no permissions) is the common case: no call then
    if (rights.permissions !== null && !rights.receives(msg, this.host.now)) return false
    const writer = this.writer
    const outbox = writer.outbox
    const outcome = outbox.deliver(sub, msg)
    if (outcome === 'overflow') return this.slowConsumer()
    if (outcome === 'values-overflow') return this.slowConsumer('SLOW_CONSUMER_LAST_VALUE_BYTES', 'slow consumer (last-value bytes)')
    this.host.markDirty(this)
    sub.delivered++
    if (sub.max > 0 && sub.delivered >= sub.max) this.dropSubscription(sub)
    if (writer.turnFull()) writer.flush()
    return msg.subjectClass !== SubjectClass.LastValue && outbox.heldEventBytes >= this.host.holdBackEventBytes
  }

  control (line: Buffer): void {
    if (this.writer.control(line) === 'overflow') this.slowConsumer()
  }

  /** Past its limit of undelivered events (and control lines), or of last values: closed, saying so. */
  private slowConsumer (
    code: 'SLOW_CONSUMER_EVENT_BYTES' | 'SLOW_CONSUMER_LAST_VALUE_BYTES' = 'SLOW_CONSUMER_EVENT_BYTES',
    reason: CloseReason = 'slow consumer (event bytes)'
  ): false {
    this.closeWith(code, reason)
    return false
  }

  /** Writes what is pending: one socket write. Called by the fan-out scheduler. */
  flush (): void {
    this.writer.flush()
  }

  /** Periodic checks driven by the router's sweep: connect timeout and server pings. */
  tick (nowMs: number, connectTimeoutMs: number, pingIntervalMs: number, maxPingsOutstanding: number): void {
    if (this.isClosed) return
    if (!this.connected) {
      // The timeout is for CONNECT to arrive: once it has, a password check waiting its turn
      // (password-check.ts, bounded) is the broker's time, not the client's.
      if (!this.authenticating && nowMs - this.acceptedAtMs >= connectTimeoutMs) this.closeWith('AUTH_TIMEOUT', 'authentication timeout')
      return
    }
    const due = this.keepAlive.due(nowMs, pingIntervalMs, maxPingsOutstanding)
    if (due === 'stale') return this.closeWith('STALE_CONNECTION', 'stale connection')
    if (due === 'ping') { this.writer.wantPing = true; this.host.markDirty(this) }
  }

  // --- closing -------------------------------------------------------------------------

  /** Closes with a stated reason: the -ERR goes after what is queued (not to a slow consumer: it could not take it). */
  closeWith (code: ProtocolErrorCode | null, reason: CloseReason, detail?: string): void {
    if (this.isClosed) return
    // What is queued goes first, but to a slow consumer: it is what the connection could not take.
    const queued = reason.startsWith('slow consumer') ? null : this.writer.lastWrite()
    this.finish(reason, code)
    const last = code === null ? null : Buffer.from(errLine(code, detail))
    this.transport.close(queued === null ? last : last === null ? queued : Buffer.concat([queued, last]))
  }

  /** The socket closed under us (peer closed, reset, error). */
  transportClosed (reason: CloseReason = 'client closed'): void {
    if (this.isClosed) return
    this.finish(reason, null)
    this.transport.close(null)
  }

  private finish (reason: CloseReason, code: ProtocolErrorCode | null): void {
    this.isClosed = true
    this.closeReason = reason
    this.closedAtMs = this.host.now()
    this.parser.stop()
    this.writer.stopped = true
    this.outbox.clear()
    for (const sub of this.subscriptions.values()) this.dropSubscription(sub)
    this.host.closed(this, reason, code)
  }

  /**
   * Counts SUB and UNSUB operations (`weight` of them); past the rate limit, this connection's
   * reads and the rest of what it already sent wait until the second ends. False then.
   */
  private paceSubscriptionOps (weight = 1): boolean {
    if (this.subscriptionOps.admit(this.host.now, weight)) return true
    this.holdParser()
    this.host.throttle(this, this.subscriptionOps.windowEndsAtMs)
    return false
  }

  private dropSubscription (sub: Subscription): void {
    sub.closed = true
    // An UNSUB waiting its turn (afterOwnPublishes) gave up the sid already; a new SUB may hold it.
    if (this.subscriptions.get(sub.sid) === sub) this.subscriptions.delete(sub.sid)
    this.host.unsubscribe(sub)
  }

  /** In verbose mode: +OK, in its place among the replies (a PUB's before its own message: afterOwnPublishes). */
  private ok (): void {
    if (this.options.verbose) this.afterOwnPublishes(this.sendOk)
  }

  private readonly sendOk = (): void => { this.replies.reply(OK) }
}
