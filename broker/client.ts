/**
 * One client connection: protocol state (CONNECT options, subscriptions, pings), its parser and
 * its outbox. It speaks to the socket only through a `Transport`, so TCP and WebSocket are the
 * same here, and tests can use a fake.
 */
import type { AuthResult, Credentials, Permissions } from './auth.ts'
import { ProtocolError, errLine, type CloseReason, type ProtocolErrorCode } from './errors.ts'
import { FairnessRecord, type FanoutMember } from './fanout.ts'
import { Outbox, type OutboxSubscription } from './outbox.ts'
import { ProtocolParser, type ProtocolHandler } from './parser.ts'
import { isValidLiteralSubject, isValidQueueName, isValidSubject } from './subjects.ts'
import { encodeSid, type RoutedMessage } from './wire.ts'
import type { Interest } from './subject-trie.ts'

/** The socket, seen from the broker core. */
export interface Transport {
  readonly kind: 'tcp' | 'websocket'
  readonly remoteAddress: string
  readonly remotePort: number
  /** Writes one chunk; never called more than once per flush turn per connection. */
  write (chunk: Buffer): void
  /** Bytes the socket holds that the peer has not taken yet. */
  readonly bufferedBytes: number
  /** Ends the connection after a final line (if any); destroys it if it does not end soon. */
  close (finalLine: Buffer | null): void
}

/** What the client needs from the router; the router implements it. */
export interface ClientHost {
  readonly now: () => number
  readonly maxSubscriptionsPerConnection: number
  readonly highWaterBytes: number
  /** Bytes a client may have in flight (written, not yet acknowledged by a PONG) before it is conflated. */
  readonly maxInFlightBytes: number
  /** How long a flow-control PING may stay unanswered before the client is conflated. */
  readonly maxAckWaitMs: number
  /** Inbound messages per second a connection may publish; 0 = unlimited. */
  readonly maxInMsgsPerSec: number
  /** Checks CONNECT's credentials (a promise while a password hash is verified). */
  authenticate (credentials: Credentials): AuthResult | Promise<AuthResult>
  /** Is it a last-value or event subject (one whose messages only the rightful publishers may write)? */
  isProtectedSubject (subject: string): boolean
  /** Who a client is that sends a command before CONNECT; null when it must authenticate first. */
  admitWithoutConnect (): AuthResult | null
  publish (from: Client, subject: string, reply: string | undefined, data: Buffer, headerBytes: number): void
  subscribe (sub: Subscription): void
  unsubscribe (sub: Subscription): void
  /** Interest changes announced to other workers so far (see whenInterestSettled). */
  readonly interestSeq: number
  /** Has every other worker applied interest changes up to `seq`? */
  interestSettled (seq: number): boolean
  /** Calls `settled` (perhaps at once) when every other worker has applied interest changes up to `seq`. */
  whenInterestSettled (seq: number, settled: () => void): void
  markDirty (client: Client): void
  startedConflating (client: Client): void
  stoppedConflating (client: Client): void
  closed (client: Client, reason: CloseReason, error: ProtocolErrorCode | null): void
  protocolError (client: Client, code: ProtocolErrorCode): void
}

let nextSubscriptionUid = 1

export class Subscription implements Interest, OutboxSubscription {
  readonly uid = nextSubscriptionUid++
  readonly sidBytes: Buffer
  /** Deliveries after which the subscription ends (UNSUB with max); 0 = unlimited. */
  max = 0
  delivered = 0
  closed = false

  constructor (
    readonly client: Client,
    readonly subject: string,
    readonly queue: string | undefined,
    readonly sid: string
  ) {
    this.sidBytes = encodeSid(sid)
  }
}

export interface ConnectOptions {
  verbose: boolean
  pedantic: boolean
  echo: boolean
  headers: boolean
  noResponders: boolean
  name: string
  lang: string
  version: string
}

/** The smallest flow window: a few messages in flight even for the slowest reader. */
const MIN_WINDOW_BYTES = 8 * 1024
const INITIAL_WINDOW_BYTES = 64 * 1024

const PONG = Buffer.from('PONG\r\n')
const PING = Buffer.from('PING\r\n')
const OK = Buffer.from('+OK\r\n')

export class Client implements ProtocolHandler, FanoutMember {
  readonly parser: ProtocolParser
  readonly outbox: Outbox
  readonly subscriptions = new Map<string, Subscription>()
  readonly fairness = new FairnessRecord()
  readonly acceptedAtMs: number
  queuedForFlush = false

  /** nats-server's defaults for a client that has not sent CONNECT (or omits fields). */
  options: ConnectOptions = { verbose: true, pedantic: true, echo: true, headers: false, noResponders: false, name: '', lang: '', version: '' }
  connected = false
  /** The authenticated user (null without authorization, or with a token). */
  user: string | null = null
  /** What this connection may publish and subscribe to; null = everything. */
  permissions: Permissions | null = null
  /** Reply subjects it may answer (allow_responses): subject -> replies left and expiry. */
  private responses: Map<string, { left: number, expiresAtMs: number }> | null = null
  /** Inbound rate limit: the current one-second window and what it holds. */
  private rateWindowStartMs = 0
  private rateWindowMsgs = 0
  private rateErrorAtMs = -Infinity
  /** Messages dropped by the rate limit. */
  droppedInMsgs = 0
  isClosed = false
  closeReason: CloseReason | null = null
  closedAtMs = 0

  /** The interest sequence after this client's latest SUB or UNSUB (see ping). */
  private interestSeq = 0
  /** PONGs waiting for other workers to apply interest changes: the sequence each waits for. */
  private readonly heldPongs: number[] = []
  pingsOutstanding = 0
  nextPingAtMs = 0
  rttMs = -1
  private pingSentAtMs = 0
  /**
   * Flow control by the protocol's own PING/PONG. Every client answers a server PING with a
   * PONG, in stream order, so a PONG proves it has consumed every byte written before that
   * PING. `pingPositions` holds the stream offset (outBytes) after each PING sent; a PONG
   * acknowledges the oldest. Bytes written but not acknowledged are in flight somewhere (the
   * kernel's socket buffers, which Node cannot see or size, or the client's own queue), and
   * past maxInFlightBytes the connection is conflated, exactly as when its socket buffer fills.
   * Without this a slow reader on loopback drains megabytes of stale kernel-buffered data
   * before it sees the newest values.
   */
  private readonly pingPositions: number[] = []
  /** When each PING in pingPositions was written (host clock, ms). */
  private readonly pingTimes: number[] = []
  private ackedBytes = 0
  /**
   * The in-flight window, adapted like TCP's to the reader: bytes it acknowledges per ms (when
   * the window limited it) times a quarter of maxAckWaitMs, between MIN_WINDOW_BYTES and
   * maxInFlightBytes. A fast reader keeps the whole allowance; a slow one gets about 25 ms of
   * its own work in flight, so what it reads is never much older than that.
   */
  flowWindowBytes: number
  private ackBytesPerMs = 0
  private wantPing = false

  inMsgs = 0
  inBytes = 0
  outBytes = 0
  writes = 0
  /** Deliveries dropped by the outbox because a newer value of the same subject superseded them. */
  get conflated (): number { return this.outbox.conflated }
  get outMsgs (): number { return this.outbox.messagesOut }

  constructor (
    readonly cid: number,
    readonly transport: Transport,
    private readonly host: ClientHost,
    limits: { maxControlLineBytes: number, maxPayloadBytes: number, maxPendingEventBytes: number }
  ) {
    this.parser = new ProtocolParser(this, limits)
    this.outbox = new Outbox({ headers: false, maxPendingEventBytes: limits.maxPendingEventBytes })
    this.acceptedAtMs = host.now()
    // Start small, like TCP's slow start: a reader proves it is fast before it gets the whole allowance.
    this.flowWindowBytes = Math.min(INITIAL_WINDOW_BYTES, host.maxInFlightBytes)
  }

  /** Bytes from the socket. */
  receive (chunk: Buffer): void {
    if (this.isClosed) return
    this.inBytes += chunk.length
    this.parser.feed(chunk)
  }

  // --- ProtocolHandler ---------------------------------------------------------------

  connect (json: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      return this.error('BAD_CONNECT')
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return this.error('BAD_CONNECT')
    const o = parsed as Record<string, unknown>
    const flag = (key: string, fallback: boolean): boolean => (typeof o[key] === 'boolean' ? o[key] : fallback)
    const text = (key: string): string => (typeof o[key] === 'string' ? o[key] : '')
    this.options = {
      verbose: flag('verbose', true),
      pedantic: flag('pedantic', true),
      echo: flag('echo', true),
      headers: flag('headers', false),
      noResponders: flag('no_responders', false),
      name: text('name'),
      lang: text('lang'),
      version: text('version')
    }
    if (this.options.noResponders && !this.options.headers) return this.error('NO_RESPONDERS_REQUIRES_HEADERS')
    this.outbox.headers = this.options.headers
    if (this.connected) return this.ok() // a repeated CONNECT updates options; identity stays
    const result = this.host.authenticate(o)
    if (!(result instanceof Promise)) return this.authenticated(result)
    // A password hash is being checked: hold everything the client sends after CONNECT until
    // it is known who the client is.
    this.parser.pause()
    result.then((r) => {
      if (this.isClosed) return
      this.authenticated(r)
      if (!this.isClosed) this.parser.resume()
    }, () => this.closeWith('AUTHORIZATION_VIOLATION', 'authorization violation'))
  }

  private authenticated (result: AuthResult): void {
    if (!result.ok) return this.authorizationViolation()
    this.adopt(result)
    this.ok()
  }

  private adopt (result: AuthResult & { ok: true }): void {
    this.user = result.user
    this.permissions = result.permissions
    if (result.permissions?.responses != null) this.responses = new Map()
    this.connected = true
    // nats-server sends its first PING about 2 s after CONNECT, then every ping interval.
    this.nextPingAtMs = this.host.now() + 2000
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

  /** Has it passed the inbound rate limit? Excess messages are dropped, with one -ERR a second. */
  private admitInbound (): boolean {
    const limit = this.host.maxInMsgsPerSec
    if (limit <= 0) return true
    const now = this.host.now()
    if (now - this.rateWindowStartMs >= 1000) {
      this.rateWindowStartMs = now
      this.rateWindowMsgs = 0
    }
    if (++this.rateWindowMsgs <= limit) return true
    this.droppedInMsgs++
    if (now - this.rateErrorAtMs >= 1000) {
      this.rateErrorAtMs = now
      this.error('MAX_MESSAGES_PER_SECOND')
    }
    return false
  }

  /** May it publish here: by its permissions, or as an allowed response to a request it received? */
  private mayPublish (subject: string): boolean {
    const permissions = this.permissions
    if (permissions === null || permissions.mayPublish(subject)) return true
    const grant = this.responses?.get(subject)
    if (grant === undefined) return false
    // A response grant never writes a last value or an event: those need a publish right.
    if (this.host.isProtectedSubject(subject)) return false
    if (grant.expiresAtMs > 0 && this.host.now() > grant.expiresAtMs) {
      this.responses?.delete(subject)
      return false
    }
    if (--grant.left <= 0) this.responses?.delete(subject)
    return true
  }

  /**
   * The checks every publish passes before it is routed; false when it was refused (and the
   * client told why). A reply subject that is last-value or event is refused unless the
   * requester may publish there itself: otherwise whoever answers (with a response grant)
   * would write a price or a trade for it.
   */
  private admitPublish (subject: string, reply: string | undefined): boolean {
    if (this.options.pedantic && !isValidLiteralSubject(subject)) { this.error('INVALID_PUBLISH_SUBJECT'); return false }
    if (!this.mayPublish(subject)) { this.error('PERMISSIONS_PUBLISH', `to "${subject}"`); return false }
    const permissions = this.permissions
    if (reply !== undefined && permissions !== null && this.host.isProtectedSubject(reply) && !permissions.mayPublish(reply)) {
      this.error('PERMISSIONS_REPLY', `"${reply}"`)
      return false
    }
    return this.admitInbound()
  }

  pub (subject: string, reply: string | undefined, payload: Buffer): void {
    this.inMsgs++
    if (!this.admitted() || !this.admitPublish(subject, reply)) return
    this.ok() // nats-server acknowledges before routing: +OK precedes an echoed MSG
    this.host.publish(this, subject, reply, payload, 0)
  }

  hpub (subject: string, reply: string | undefined, headerBytes: number, data: Buffer): void {
    this.inMsgs++
    if (!this.admitted()) return
    if (!this.options.headers) return this.error('HEADERS_NOT_NEGOTIATED')
    if (!this.admitPublish(subject, reply)) return
    this.ok()
    this.host.publish(this, subject, reply, data, headerBytes)
  }

  sub (subject: string, queue: string | undefined, sid: string): void {
    if (!this.admitted()) return
    if (!isValidSubject(subject)) return this.error('INVALID_SUBJECT')
    if (queue !== undefined && !isValidQueueName(queue)) return this.error('INVALID_SUBJECT')
    if (this.permissions !== null && !this.permissions.maySubscribe(subject)) {
      return this.error('PERMISSIONS_SUBSCRIBE', queue === undefined ? `to "${subject}"` : `to "${subject}" using queue "${queue}"`)
    }
    if (this.subscriptions.has(sid)) return this.ok() // nats-server ignores a duplicate sid
    if (this.subscriptions.size >= this.host.maxSubscriptionsPerConnection) return this.error('MAX_SUBSCRIPTIONS')
    const sub = new Subscription(this, subject, queue, sid)
    this.subscriptions.set(sid, sub)
    this.ok()
    this.host.subscribe(sub)
    this.interestSeq = this.host.interestSeq
  }

  unsub (sid: string, max: number | undefined): void {
    if (!this.admitted()) return
    const sub = this.subscriptions.get(sid)
    if (sub !== undefined) {
      if (max !== undefined && max > 0 && sub.delivered < max) sub.max = max
      else this.dropSubscription(sub)
      this.interestSeq = this.host.interestSeq
    }
    this.ok()
  }

  /**
   * PONG promises what one nats-server promises: every SUB and UNSUB sent before the PING is in
   * force, here and on every other worker, so whatever is published after the PONG reaches (or
   * no longer reaches) this client. On a multi-worker broker a PONG after an interest change
   * waits until every other worker has applied it; later PONGs wait behind it, in order.
   */
  ping (): void {
    if (!this.admitted()) return
    if (this.heldPongs.length === 0 && this.host.interestSettled(this.interestSeq)) return this.control(PONG)
    this.heldPongs.push(this.interestSeq)
    if (this.heldPongs.length === 1) this.awaitInterest()
  }

  private awaitInterest (): void {
    const seq = this.heldPongs[0] as number
    this.host.whenInterestSettled(seq, () => {
      if (this.isClosed) return
      while (this.heldPongs.length > 0 && (this.heldPongs[0] as number) <= seq) {
        this.heldPongs.shift()
        this.control(PONG)
      }
      if (this.heldPongs.length > 0) this.awaitInterest()
    })
  }

  pong (): void {
    if (!this.admitted()) return
    if (this.pingsOutstanding > 0 && this.pingSentAtMs > 0) this.rttMs = this.host.now() - this.pingSentAtMs
    this.pingsOutstanding = 0
    const position = this.pingPositions.shift()
    const sentAt = this.pingTimes.shift()
    if (position !== undefined && position > this.ackedBytes) {
      // A sample of the reader's speed counts only when the reader held the pipe back (we are
      // holding data for it, or half the window is still in flight): otherwise it measures how
      // much we had to send, not how fast it reads.
      const limited = this.outbox.conflating || this.inFlightBytes >= this.flowWindowBytes / 2
      if (limited && sentAt !== undefined) this.adaptWindow(position - this.ackedBytes, this.host.now() - sentAt)
      this.ackedBytes = position
    }
    if (this.outbox.conflating) this.drained()
  }

  private adaptWindow (ackedBytes: number, elapsedMs: number): void {
    const sample = ackedBytes / Math.max(1, elapsedMs)
    this.ackBytesPerMs = this.ackBytesPerMs === 0 ? sample : 0.5 * this.ackBytesPerMs + 0.5 * sample
    const target = this.ackBytesPerMs * this.host.maxAckWaitMs / 4
    this.flowWindowBytes = Math.round(Math.min(this.host.maxInFlightBytes, Math.max(MIN_WINDOW_BYTES, target)))
  }

  /** Written bytes the client has not acknowledged yet (see pingPositions). */
  get inFlightBytes (): number {
    return this.outBytes - this.ackedBytes
  }

  /** A protocol error: send nats-server's text; close if the error is fatal. */
  error (code: ProtocolErrorCode, detail?: string): void {
    this.host.protocolError(this, code)
    if (ProtocolError[code].close) this.closeWith(code, 'protocol error')
    else this.control(Buffer.from(errLine(code, detail)))
  }

  // --- delivery ------------------------------------------------------------------------

  /** Queues `msg` for `sub`; returns false when the subscription reached its max and ended. */
  deliver (sub: Subscription, msg: RoutedMessage): void {
    if (this.isClosed || sub.closed) return
    if (this.permissions !== null) {
      if (!this.permissions.mayReceive(msg.subject)) return
      if (msg.reply !== undefined && this.responses !== null) this.grantResponse(msg.reply)
    }
    const outcome = this.outbox.deliver(sub, msg)
    if (outcome === 'overflow') return this.closeWith('SLOW_CONSUMER_EVENT_BYTES', 'slow consumer (event bytes)')
    this.host.markDirty(this)
    sub.delivered++
    if (sub.max > 0 && sub.delivered >= sub.max) this.dropSubscription(sub)
    // A turn can only grow so large: past the high-water mark, write now (nats.js and
    // nats-server flush early past a byte threshold too).
    if (this.outbox.flowingBytes >= this.host.highWaterBytes && !this.outbox.conflating) this.flush()
  }

  private grantResponse (reply: string): void {
    const rules = this.permissions?.responses
    const responses = this.responses
    if (rules == null || responses === null) return
    // Bounded like everything else: a flood of requests cannot grow this map without end.
    if (responses.size >= 4096) responses.delete(responses.keys().next().value as string)
    responses.set(reply, { left: rules.max, expiresAtMs: rules.expiresMs > 0 ? this.host.now() + rules.expiresMs : 0 })
  }

  control (line: Buffer): void {
    if (this.isClosed) return
    this.outbox.control(line, this.host.now())
    this.host.markDirty(this)
  }

  /** Writes what is pending: one socket write. Called by the fan-out scheduler. */
  flush (): void {
    if (this.isClosed || this.outbox.conflating) return
    // Time bounds staleness where bytes cannot: a reader that has not answered the PING sent
    // maxAckWaitMs ago is behind by at least that long, whatever its byte rate.
    if (this.pingTimes.length > 0 && this.host.now() - (this.pingTimes[0] as number) > this.host.maxAckWaitMs) {
      this.outbox.startConflating(this.host.now())
      this.host.startedConflating(this)
      return
    }
    // A flow-control probe when a quarter of the in-flight allowance is unacknowledged and no
    // PING is out (often enough that an unanswered probe's age tracks how far behind the
    // reader is); or the keep-alive PING. Either goes at the end of this write.
    const probe = this.pingPositions.length === 0 &&
      this.outBytes + this.outbox.flowingBytes - this.ackedBytes >= this.flowWindowBytes / 4
    const ping = probe || this.wantPing
    if (ping) {
      this.outbox.control(PING)
      this.wantPing = false
    }
    const chunk = this.outbox.take()
    if (chunk === null) return
    if (!this.write(chunk)) return
    if (ping) this.notePing()
    if (this.transport.bufferedBytes >= this.host.highWaterBytes || this.inFlightBytes >= this.flowWindowBytes) {
      this.outbox.startConflating(this.host.now())
      this.host.startedConflating(this)
    }
  }

  private notePing (): void {
    this.pingPositions.push(this.outBytes)
    this.pingTimes.push(this.host.now())
  }

  private write (chunk: Buffer): boolean {
    try {
      this.transport.write(chunk)
    } catch {
      this.transportClosed('transport error')
      return false
    }
    this.writes++
    this.outBytes += chunk.length
    return true
  }

  /**
   * The socket drained or a PONG acknowledged bytes: release what was held (conflated) in the
   * next turn, once both the socket buffer and the bytes in flight are below their marks.
   */
  drained (): void {
    if (this.isClosed || !this.outbox.conflating) return
    if (this.transport.bufferedBytes >= this.host.highWaterBytes) return
    if (this.inFlightBytes >= this.flowWindowBytes) {
      // Still too much in flight and nothing asked: ask now, after everything already written.
      if (this.pingPositions.length === 0 && this.write(PING)) this.notePing()
      return
    }
    if (this.pingTimes.length > 0 && this.host.now() - (this.pingTimes[0] as number) > this.host.maxAckWaitMs) return
    this.outbox.stopConflating()
    this.host.stoppedConflating(this)
    this.host.markDirty(this)
  }

  /** Periodic checks driven by the router's sweep: connect timeout and server pings. */
  tick (nowMs: number, connectTimeoutMs: number, pingIntervalMs: number, maxPingsOutstanding: number): void {
    if (this.isClosed) return
    if (!this.connected) {
      if (nowMs - this.acceptedAtMs >= connectTimeoutMs) this.closeWith('AUTH_TIMEOUT', 'authentication timeout')
      return
    }
    if (nowMs < this.nextPingAtMs) return
    if (this.pingsOutstanding >= maxPingsOutstanding) return this.closeWith('STALE_CONNECTION', 'stale connection')
    this.pingsOutstanding++
    this.pingSentAtMs = nowMs
    this.nextPingAtMs = nowMs + pingIntervalMs
    this.wantPing = true // sent at the end of the next write, so its PONG also acknowledges bytes
    this.host.markDirty(this)
  }

  // --- closing -------------------------------------------------------------------------

  /** Closes with a stated reason: the -ERR goes out ahead of nothing else (pending data is dropped). */
  closeWith (code: ProtocolErrorCode | null, reason: CloseReason): void {
    if (this.isClosed) return
    this.finish(reason, code)
    this.transport.close(code === null ? null : Buffer.from(errLine(code)))
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
    this.outbox.clear()
    for (const sub of this.subscriptions.values()) {
      sub.closed = true
      this.host.unsubscribe(sub)
    }
    this.subscriptions.clear()
    this.host.closed(this, reason, code)
  }

  private dropSubscription (sub: Subscription): void {
    sub.closed = true
    this.subscriptions.delete(sub.sid)
    this.host.unsubscribe(sub)
  }

  private ok (): void {
    if (this.options.verbose) this.control(OK)
  }

  /** Bytes waiting for this client: its outbox plus what its socket buffers. */
  get pendingBytes (): number {
    return this.outbox.pendingBytes + (this.isClosed ? 0 : this.transport.bufferedBytes)
  }
}
