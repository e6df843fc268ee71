/**
 * Every broker option, its default and its unit. The CLI (`main.ts`) and tests build a
 * `BrokerOptions` from these; nothing else holds a default.
 */
import os from 'node:os'
import type { AuthorizationConfig } from './auth.ts'
import { DEFAULT_SUBJECT_CLASSES, type SubjectClassRules } from './subject-classes.ts'

/** A certificate and its key, PEM-encoded. */
export interface TlsConfig {
  cert: string
  key: string
}

export interface BrokerOptions {
  /** Interface to listen on. Default 0.0.0.0. */
  host: string
  /** NATS TCP port (0 picks a free one). Default 4222. */
  port: number
  /** NATS-over-WebSocket port, any path; -1 disables. Default 8080. */
  wsPort: number
  /** HTTP monitoring port (/varz, /connz, /subsz, /lvc, /metrics, /healthz); -1 disables. Default 8222. */
  httpPort: number
  /** Name reported in INFO and /varz. Default tickfan. */
  serverName: string
  /** Largest message (headers + payload) accepted, as `max_payload` in INFO. Default 1 MiB. */
  maxPayloadBytes: number
  /** Longest control line accepted. Default 4096 (nats-server's). */
  maxControlLineBytes: number
  /** Connections accepted at once; past it a new one gets -ERR and is closed. Default 65536. */
  maxConnections: number
  /** Subscriptions per connection; past it SUB gets -ERR and the connection stays open. Default 65536. */
  maxSubscriptionsPerConnection: number
  /** Socket-buffered bytes past which a connection's last-value messages are conflated. Default 256 KiB. */
  highWaterBytes: number
  /**
   * Bytes written to a connection and not yet acknowledged (the client answers the PING sent
   * after them) past which it is conflated: bounds what sits in kernel socket buffers, which
   * Node cannot see. This is the largest flow window; each connection's window adapts to how
   * fast it reads (see Client.flowWindowBytes). Default 256 KiB.
   */
  maxInFlightBytes: number
  /**
   * A flow-control PING unanswered for this long means the client is that far behind: it is
   * conflated until it answers. Bounds a slow reader's staleness in time. Default 100 ms.
   */
  maxAckWaitMs: number
  /** Undelivered event (trade) and plain bytes a conflating connection may hold before it is closed. Default 8 MiB. */
  maxPendingEventBytes: number
  /**
   * Bytes queued on the link to another worker past which that worker is behind: its last
   * values are conflated and the subscribers there who miss events are closed as slow
   * consumers when it catches up (see worker-mesh.ts). Default 64 MiB.
   */
  meshMaxQueuedBytes: number
  /** A conflating connection whose oldest undelivered update is older than this is closed. Default 5000 ms. */
  maxStaleMs: number
  /** A connection whose socket stays blocked this long is closed. Default 10000 ms. */
  maxBlockedMs: number
  /** A connection that has not sent CONNECT within this time is closed. Default 2000 ms. */
  connectTimeoutMs: number
  /** Interval between server PINGs. Default 120000 ms (nats-server's). */
  pingIntervalMs: number
  /** Unanswered PINGs before a connection is closed as stale. Default 2. */
  maxPingsOutstanding: number
  /** Last-value subjects cached at most (least recently updated evicted). Default 100000. */
  maxLastValueSubjects: number
  /** Which subjects are last-value and which are events. Default quote.> and bbo.> / trade.>. */
  subjectClasses: SubjectClassRules
  /** Shuffle the order connections are served in each flush turn. Default true. */
  fairShuffle: boolean
  /** Closed connections remembered for /connz?state=closed. Default 1000. */
  closedConnectionsKept: number
  /** Inbound messages per second one connection may publish; past it they are dropped with a -ERR once a second. 0 = unlimited. Default 200000. */
  maxInMsgsPerSec: number
  /** Who may connect and what they may do (nats-server's authorization block). Default null: anyone, anything. */
  authorization: AuthorizationConfig | null
  /** HTTP basic credentials for the monitoring endpoints (all but /healthz); password may be a bcrypt hash. Default null: open. */
  monitoringAuth: { user: string, password: string } | null
  /** TLS for the NATS TCP port (INFO says tls_required) and the WebSocket port (wss). Default null: plain. */
  tls: TlsConfig | null
  /** Upstream NATS servers (one cluster) this node links to; empty = none. Default []. */
  upstream: readonly string[]
  /** Log level for pino. Default info. */
  logLevel: string
}

/**
 * Broker workers when --workers is not given: half the cores, at least one. On one machine the
 * broker shares its cores with the clients it serves (publishers, subscribers, in the bench its
 * load generators), and a worker without a core of its own only adds a mesh hop: on 2 cores
 * two workers sustained half the deliveries of one (bench:scaling, reports/scaling/), so one
 * is the default there. Where clients run elsewhere, give --workers the core count.
 */
export function defaultWorkers (cores: number = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2))
}

export const DEFAULT_OPTIONS: Readonly<BrokerOptions> = Object.freeze({
  host: '0.0.0.0',
  port: 4222,
  wsPort: 8080,
  httpPort: 8222,
  serverName: 'tickfan',
  maxPayloadBytes: 1024 * 1024,
  maxControlLineBytes: 4096,
  maxConnections: 65536,
  maxSubscriptionsPerConnection: 65536,
  highWaterBytes: 256 * 1024,
  maxInFlightBytes: 256 * 1024,
  maxAckWaitMs: 100,
  maxPendingEventBytes: 8 * 1024 * 1024,
  meshMaxQueuedBytes: 64 * 1024 * 1024,
  maxStaleMs: 5000,
  maxBlockedMs: 10000,
  connectTimeoutMs: 2000,
  pingIntervalMs: 120000,
  maxPingsOutstanding: 2,
  maxLastValueSubjects: 100000,
  subjectClasses: DEFAULT_SUBJECT_CLASSES,
  fairShuffle: true,
  closedConnectionsKept: 1000,
  maxInMsgsPerSec: 200_000,
  authorization: null,
  monitoringAuth: null,
  tls: null,
  upstream: [],
  logLevel: 'info'
})

export function resolveOptions (partial: Partial<BrokerOptions> = {}): BrokerOptions {
  const options: BrokerOptions = { ...DEFAULT_OPTIONS, ...partial }
  for (const [key, value] of Object.entries(options)) {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError(`option ${key} must be a finite number, got ${String(value)}`)
    }
  }
  const positive: Array<keyof BrokerOptions> = ['maxPayloadBytes', 'maxControlLineBytes', 'maxConnections',
    'maxSubscriptionsPerConnection', 'highWaterBytes', 'maxInFlightBytes', 'maxAckWaitMs', 'maxPendingEventBytes', 'meshMaxQueuedBytes', 'maxStaleMs', 'maxBlockedMs',
    'connectTimeoutMs', 'pingIntervalMs', 'maxPingsOutstanding', 'maxLastValueSubjects']
  for (const key of positive) {
    if ((options[key] as number) <= 0) throw new RangeError(`option ${key} must be > 0, got ${String(options[key])}`)
  }
  for (const key of ['port', 'wsPort', 'httpPort'] as const) {
    const port = options[key]
    if (!Number.isInteger(port) || port < -1 || port > 65535) throw new RangeError(`option ${key} must be a port number (0 = any free port, -1 = off), got ${port}`)
  }
  if (!Number.isInteger(options.maxInMsgsPerSec) || options.maxInMsgsPerSec < 0) throw new RangeError(`option maxInMsgsPerSec must be an integer >= 0 (0 = unlimited), got ${options.maxInMsgsPerSec}`)
  if (options.port < 0) throw new RangeError('option port must be 0..65535: the NATS TCP listener cannot be disabled')
  return options
}
