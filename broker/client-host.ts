/**
 * A connection's two edges: the socket below it (`Transport`) and the router above it
 * (`ClientHost`). `Client` speaks to nothing else, so TCP and WebSocket are the same to it, and
 * tests can give it fakes.
 */
import type { AuthResult, Credentials } from './auth.ts'
import type { Client } from './client.ts'
import type { CloseReason, ProtocolErrorCode } from './errors.ts'
import type { ConflationCause, FlowLimits } from './flow-control.ts'
import type { Subscription } from './subscription.ts'

/** The socket, seen from the broker core. */
export interface Transport {
  readonly kind: 'tcp' | 'websocket'
  readonly remoteAddress: string
  readonly remotePort: number
  /**
   * Writes one chunk; never called more than once per flush turn per connection. `written`, when
   * given, is called once the chunk is no longer needed (written to the kernel, or dropped on
   * close), so its buffer may serve again; a transport may also never call it.
   */
  write (chunk: Buffer, written?: () => void): void
  /** Bytes the socket holds that the peer has not taken yet. */
  readonly bufferedBytes: number
  /** Ends the connection after a final line (if any); destroys it if it does not end soon. */
  close (finalLine: Buffer | null): void
  /** Stops reading from the peer (its sends wait in the socket, then TCP slows it down); idempotent. */
  pauseReading (): void
  resumeReading (): void
}

/** What the client needs from the router; the router implements it. */
/** A subject as a publisher sees it: may a message be published to it at all? */
export interface PublishSubject {
  readonly subject: string
  /** No empty token and no wildcard token (subjects.ts isValidLiteralSubject). */
  readonly publishable: boolean
}

export interface ClientHost extends FlowLimits {
  readonly now: () => number
  readonly maxSubscriptionsPerConnection: number
  /** Inbound messages per second a connection may publish; 0 = unlimited. */
  readonly maxInMsgsPerSec: number
  readonly maxSubscriptionOpsPerSec: number
  /** Undelivered event bytes of a subscriber past which its publishers are held back (input-pacing.ts). */
  readonly holdBackEventBytes: number
  /** The client read its budget for this turn (input-pacing.ts): pause it until the turn ends. */
  readBudgetSpent (client: Client): void
  /** The client went over its rate limit: pause its reads until `untilMs` (host clock). */
  throttle (client: Client, untilMs: number): void
  /** Checks CONNECT's credentials from `address` (a promise while a password hash is verified). */
  authenticate (credentials: Credentials, address: string): AuthResult | Promise<AuthResult>
  /** Is it a last-value or event subject (one whose messages only the rightful publishers may write)? */
  isProtectedSubject (subject: string): boolean
  /** Who a client is that sends a command before CONNECT; null when it must authenticate first. */
  admitWithoutConnect (): AuthResult | null
  /**
   * A chunk of input is about to be handled: its messages share one clock reading. True when
   * this call took the clock, and must then call endInput() after the chunk (router.ts).
   */
  beginInput (): boolean
  endInput (): void
  /**
   * What the broker knows of a subject, looked up once per message (router.ts SubjectFacts).
   * `subjectKey`: the parser's key for it (ProtocolHandler.pub), or -1.
   */
  subjectFacts (subject: string, subjectKey?: number): PublishSubject
  /** `sequence`: the Tickfan-Seq the client's header scan read (header-block.ts), or null when not read. */
  publish (
    from: Client,
    subject: PublishSubject,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    sequence: number | undefined | null
  ): void
  /**
   * Inserts `sub` and starts its snapshot; returns the cached subjects that took a scan (0 when
   * its list was known): the client charges them against its SUB and UNSUB rate.
   */
  subscribe (sub: Subscription): number
  unsubscribe (sub: Subscription): void
  /** Interest changes announced to other workers so far (see whenInterestSettled). */
  readonly interestSeq: number
  /** Has every other worker applied interest changes up to `seq`? */
  interestSettled (seq: number): boolean
  /** Calls `settled` (perhaps at once) when every other worker has applied interest changes up to `seq`. */
  whenInterestSettled (seq: number, settled: () => void): void
  /**
   * Runs `run` once every message published on this worker so far has been delivered to this
   * worker's subscribers (at once with one worker; on several, a local publish comes back to its
   * own worker through the mesh first: worker-mesh.ts). What a client sends after a publish is
   * ordered behind it so (client.ts, afterOwnPublishes).
   */
  afterLocalPublishes (run: () => void): void
  markDirty (client: Client): void
  /** The client started conflating: flow control judged it too far behind (`cause`). */
  startedConflating (client: Client, cause: ConflationCause): void
  stoppedConflating (client: Client): void
  closed (client: Client, reason: CloseReason, error: ProtocolErrorCode | null): void
  protocolError (client: Client, code: ProtocolErrorCode): void
}
