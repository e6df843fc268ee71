/**
 * Every broker option, once: its flag, default, unit, bounds and help, in one table. From it
 * come the `BrokerOptions` type, the defaults, validation, `npm run broker -- --help` and the
 * README's limits table (`npm run docs:limits`); nothing else holds a default. A number's unit
 * ends its name (`maxPayloadBytes` is `--max-payload-bytes`); earlier flag names stay as aliases.
 */
import os from 'node:os'
import { formatBytes, numberProblem, type OptionSpec, type ParsedOptions } from '../lib/cli-options.ts'
import type { AuthorizationConfig } from './auth.ts'
import { DEFAULT_SUBJECT_CLASSES, type SubjectClassRules } from './subject-classes.ts'
import { allowedHostsProblem } from '../lib/allowed-hosts.ts'
import { allowedOriginsProblem } from './ws-origin.ts'

/** A certificate and its key, PEM-encoded. */
export interface TlsConfig {
  cert: string
  key: string
}

/** What a limit is and what happens past it, for the README's limits table. */
interface LimitDoc {
  limit?: { what: string, pastIt: string }
}

/** The broker's own options. The command line adds the rows of BROKER_CLI (main.ts builds the rest from them). */
export const BROKER_OPTION_TABLE = {
  host: { type: 'string', default: '0.0.0.0', help: 'Interface to listen on' },
  port: { type: 'integer', default: 4222, min: 0, max: 65535, help: 'NATS TCP port (0 = any free port)' },
  wsPort: { type: 'integer', default: 8080, min: -1, max: 65535, help: 'NATS-over-WebSocket port, any path (--ws-port=-1 = off)' },
  wsAllowedOrigins: {
    type: 'list', default: ['loopback'],
    help: 'Web pages that may connect on the WebSocket port, by their Origin header: * (any, nats-server\'s default), ' +
      'loopback (pages served from this machine) or origins such as https://dash.example.com; a request without an Origin (not a browser) is always served'
  },
  httpPort: { type: 'integer', default: 8222, min: -1, max: 65535, help: 'HTTP monitoring port: /healthz /varz /connz /subsz /metrics /lvc (--http-port=-1 = off)' },
  httpAllowedHosts: {
    type: 'list', default: [],
    help: 'Host names the monitoring port answers besides IP addresses and localhost (a guard against DNS rebinding): ' +
      '* (any, nats-server\'s behaviour), names such as tickfan.example.com, or .example.com for a domain and every name under it'
  },
  serverName: { type: 'string', default: 'tickfan', aliases: ['name'], help: 'Server name in INFO and /varz' },
  maxPayloadBytes: {
    type: 'integer', default: 1024 * 1024, min: 1, unit: 'bytes', aliases: ['max-payload'],
    help: 'Largest message (headers + payload) accepted, as max_payload in INFO',
    limit: { what: 'payload', pastIt: "`-ERR 'Maximum Payload Violation'`, closed" }
  },
  maxControlLineBytes: {
    type: 'integer', default: 4096, min: 64, unit: 'bytes', aliases: ['max-control-line'],
    help: 'Longest protocol control line accepted (nats-server\'s default)',
    limit: { what: 'control line', pastIt: "`-ERR 'maximum control line exceeded'`, closed" }
  },
  wsMaxMessageBytes: {
    type: 'integer', default: 8 * 1024 * 1024, min: 1, unit: 'bytes',
    help: 'Largest WebSocket message taken, never less than one command of the largest payload. A message is ' +
      'held whole until it ends; clients batch many commands into one (nats.js every SUB after a reconnect)',
    limit: {
      what: 'WebSocket message, held whole until it ends (nats.js sends its pending commands in one: up to 32 KiB ' +
        'and a message, every SUB after a reconnect; nats-server reads frames as a stream and has no such limit; ' +
        'never less than one command of the largest payload)',
      pastIt: 'closed with WebSocket close code 1009'
    }
  },
  maxConnections: {
    type: 'integer', default: 65536, min: 1,
    help: 'Connections accepted at once, all workers together (lowered at start, saying so, to fit the open-file limit)',
    limit: {
      what: 'connections, all workers together, WebSocket upgrades (and wss TLS handshakes) under way included (lowered at start, saying so, to what the open-file limit `ulimit -n` leaves room for)',
      pastIt: "`-ERR 'maximum connections exceeded'` (on the WebSocket port before the upgrade, `503 Service Unavailable`; with wss, closed before TLS), closed " +
        '(past the open-file limit a client would be cut off without a word: `broker/open-file-limit.test.ts`)'
    }
  },
  maxSubscriptionsPerConnection: {
    type: 'integer', default: 65536, min: 1, aliases: ['max-subscriptions'], help: 'Subscriptions per connection',
    limit: { what: 'subscriptions per connection', pastIt: "`-ERR 'Maximum Subscriptions Exceeded'`, stays open" }
  },
  maxInMsgsPerSec: {
    type: 'integer', default: 0, min: 0,
    help: 'Messages per second one connection may publish; past it its reads pause until the second ends (0 = unlimited)',
    limit: {
      what: 'inbound messages per second per connection (0 = none)',
      pastIt: 'its reads pause until the second ends, so TCP slows the publisher down; nothing is dropped (`/connz` `rate_limit_pauses`)'
    }
  },
  maxSubscriptionOpsPerSec: {
    type: 'integer', default: 10000, min: 0, aliases: ['max-sub-ops-per-sec'],
    help: 'SUBs and UNSUBs per second one connection may send; past it its reads pause until the second ends (0 = unlimited)',
    limit: {
      what: 'SUBs and UNSUBs per second per connection (0 = none; a SUB whose snapshot list is computed afresh counts one more per 10 cached subjects it scanned)',
      pastIt: 'its reads, and what it already sent, wait until the second ends; nothing is refused (`/connz` `rate_limit_pauses`)'
    }
  },
  highWaterBytes: { type: 'integer', default: 256 * 1024, min: 1, unit: 'bytes', help: 'Socket-buffered bytes past which a connection is conflated' },
  maxInFlightBytes: {
    type: 'integer', default: 256 * 1024, min: 1024, unit: 'bytes',
    help: 'Largest flow window: bytes written but not acknowledged by the client (PING/PONG) past which it is conflated'
  },
  maxAckWaitMs: { type: 'integer', default: 100, min: 1, unit: 'ms', help: 'A flow-control PING unanswered this long conflates the client until it answers' },
  maxPendingEventBytes: {
    type: 'integer', default: 8 * 1024 * 1024, min: 1, unit: 'bytes', help: 'Undelivered trade and plain bytes a conflating connection may hold, each run of them and each reply between counted with 64 B of bookkeeping',
    limit: { what: 'undelivered trades per slow connection (their bytes, and 64 B for each run of them and each reply between)', pastIt: "`-ERR 'Slow Consumer: …'`, closed" }
  },
  maxPendingLastValueBytes: {
    type: 'integer', default: 64 * 1024 * 1024, min: 1024, unit: 'bytes',
    help: 'Undelivered last values a conflating connection may hold: one per subscription and subject, each counted with its MSG line and 128 B of bookkeeping',
    limit: {
      what: 'undelivered last values per slow connection (one per subscription and subject, so reached only by subjects that keep sprawling)',
      pastIt: "`-ERR 'Slow Consumer: …'`, closed"
    }
  },
  meshMaxQueuedBytes: {
    type: 'integer', default: 64 * 1024 * 1024, min: 1024, unit: 'bytes', help: 'Bytes queued for another worker before it counts as behind',
    limit: {
      what: 'bytes queued for another worker, or for a worker\'s own subscribers (its loopback)',
      pastIt: 'that worker is behind: its last values wait conflated (past this many bytes of them, by subject, each sent from the cache ' +
        'when it catches up); when it catches up, its subscribers who missed trades get ' +
        "`-ERR 'Slow Consumer: this worker fell behind its peers and missed event messages'` (`… on its own publishes …` for the " +
        'loopback) and are closed (`broker/mesh-overflow.test.ts`)'
    }
  },
  maxStaleMs: {
    type: 'integer', default: 5000, min: 1, unit: 'ms', help: 'Close a conflating connection whose oldest undelivered update is older',
    limit: { what: 'age of a slow connection\'s oldest undelivered update', pastIt: "`-ERR 'Slow Consumer: …'`, closed" }
  },
  maxBlockedMs: {
    type: 'integer', default: 10000, min: 1, unit: 'ms', help: 'Close a connection whose socket stays blocked longer',
    limit: { what: 'time a socket stays blocked', pastIt: "`-ERR 'Slow Consumer: …'`, closed" }
  },
  connectTimeoutMs: {
    type: 'integer', default: 2000, min: 1, unit: 'ms',
    help: 'Close a connection that sends no CONNECT within this time (on the WebSocket port, that has not upgraded)',
    limit: {
      what: 'time to CONNECT (its arrival: a password check queued after it does not count); on the WebSocket port, also to upgrade, from the TCP connection (a wss TLS handshake included)',
      pastIt: "`-ERR 'Authentication Timeout'`, closed; not upgraded: `408 Request Timeout`, closed (`broker/websocket-handshake.test.ts`)"
    }
  },
  pingIntervalMs: { type: 'integer', default: 120000, min: 1, unit: 'ms', help: 'Interval between server PINGs (nats-server\'s default)' },
  maxPingsOutstanding: {
    type: 'integer', default: 2, min: 1, help: 'Unanswered server PINGs before a connection is closed as stale',
    limit: { what: 'unanswered server PINGs', pastIt: "`-ERR 'Stale Connection'`, closed" }
  },
  maxLastValueSubjects: {
    type: 'integer', default: 100000, min: 1, help: 'Subjects kept in the last-value cache',
    limit: { what: 'subjects in the last-value cache (per worker)', pastIt: 'the least recently updated of a sample is evicted (`/varz` `last_value_evicted`)' }
  },
  maxLastValueBytes: {
    type: 'integer', default: 256 * 1024 * 1024, min: 1024, unit: 'bytes', help: 'Message bytes kept in the last-value cache',
    limit: { what: 'message bytes in the last-value cache (per worker)', pastIt: 'the least recently updated of a sample is evicted until it fits' }
  },
  lastValueSequenceHoldMs: {
    type: 'integer', default: 30000, min: 0, unit: 'ms',
    help: 'How long a cached value\'s Tickfan-Seq keeps lower sequences out; once it has stood unreplaced this long, a lower sequence is taken as a publisher that restarted',
    limit: {
      what: 'time a cached `Tickfan-Seq` refuses lower sequences',
      pastIt: 'a lower sequence replaces it (a publisher that restarted, or a value pinned by a sequence far ahead, is not held forever)'
    }
  },
  largeMessageGcBytes: {
    type: 'integer', default: 8 * 1024 * 1024, min: 0, unit: 'bytes',
    help: 'Bytes of messages of 64 KiB and up received between full garbage collections, or the heap in use if larger (0 = leave it to V8, which waits for about 64 MiB)',
    limit: {
      what: 'dead buffers of large messages (64 KiB and up) awaiting collection (per worker)',
      pastIt: 'a full garbage collection runs (`/varz` `large_message_collections`); 0 leaves it to V8 (about 64 MiB)'
    }
  },
  history: {
    type: 'list', default: ['trades:trade.>'],
    help: 'History streams that JetStream clients can replay, as name:subject (a name given twice keeps both subjects); --history= keeps none. Each worker keeps a whole copy; with --upstream the streams are on the NATS cluster\'s JetStream'
  },
  historyMaxAgeMs: {
    type: 'integer', default: 600000, min: 1, unit: 'ms', help: 'Oldest message a history stream keeps',
    limit: { what: 'age of a history stream\'s oldest message', pastIt: 'it leaves the stream (`/varz` `history`)' }
  },
  historyMaxBytes: {
    type: 'integer', default: 256 * 1024 * 1024, min: 1024, unit: 'bytes', help: 'Bytes (subjects, headers, payloads) each history stream keeps',
    limit: { what: 'bytes of each history stream (per worker: each keeps a whole copy)', pastIt: 'its oldest messages leave (the slabs that hold them stay within about twice this: `/varz` `held_bytes`)' }
  },
  historyPreallocate: {
    type: 'boolean', default: false,
    help: 'Take and touch each history stream\'s --history-max-bytes of slabs, and its index for messages of 128 B or more, at start, so that filling it costs no fresh memory and no full collections under load'
  },
  historyMaxMsgsPerSubject: {
    type: 'integer', default: 100000, min: 0, help: 'Messages a history stream keeps per subject (0 = no limit)',
    limit: { what: 'messages per subject in a history stream', pastIt: 'that subject\'s oldest leaves (a hole in the sequence)' }
  },
  historyDuplicateWindowMs: {
    type: 'integer', default: 120000, min: 0, unit: 'ms', help: 'How long a Nats-Msg-Id keeps a second copy of a message out of a history stream'
  },
  historyReplicas: {
    type: 'integer', default: 1, min: 1, max: 5, help: 'With --upstream: replicas of each history stream the node creates on the NATS cluster (JetStream, file storage)'
  },
  historyMaxMsgIds: {
    type: 'integer', default: 200000, min: 1, help: 'Nats-Msg-Ids a history stream remembers for its duplicate window',
    limit: { what: 'message ids remembered per history stream', pastIt: 'the oldest is forgotten (a republish older than it is stored again)' }
  },
  maxConsumersPerConnection: {
    type: 'integer', default: 64, min: 1, help: 'History consumers (JetStream) one connection may hold',
    limit: { what: 'history consumers per connection', pastIt: 'JetStream error 10026 (maximum consumers limit reached); idle ones are removed after their inactive threshold (at most 5 minutes)' }
  },
  maxConsumers: {
    type: 'integer', default: 10000, min: 1, help: 'History consumers (JetStream) in all',
    limit: { what: 'history consumers in all (per worker: each answers its own clients)', pastIt: 'JetStream error 10026' }
  },
  lameDuckDurationMs: {
    type: 'integer', default: 120000, min: 1, unit: 'ms',
    help: 'Lame-duck mode (SIGUSR2, or --signal ldm=<pid>): time from entering it to the last client closed (nats-server\'s default)'
  },
  lameDuckGracePeriodMs: {
    type: 'integer', default: 10000, min: 0, unit: 'ms', help: 'Lame-duck mode: time before the first client is closed (nats-server\'s default)'
  },
  fairShuffle: { type: 'boolean', default: true, help: 'Shuffle the order connections are served each flush turn (--no-fair-shuffle to measure without)' },
  closedConnectionsKept: { type: 'integer', default: 1000, min: 0, help: 'Closed connections remembered for /connz?state=closed' },
  upstream: {
    type: 'list', default: [],
    help: 'Upstream NATS servers (one cluster) to link to, e.g. nats://a:4222,nats://b:4222: publishes go up, interest and last values come down'
  },
  logLevel: { type: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'Log level' }
} satisfies Record<string, OptionSpec & LimitDoc>

/**
 * Options that are not one flag each: the command line builds them from --last-value/--event, --auth and
 * --tls-cert/--tls-key.
 */
interface StructuredOptions {
  /** Which subjects are last-value and which are events. */
  subjectClasses: SubjectClassRules
  /** Who may connect and what they may do (nats-server's authorization block); null: anyone, anything. */
  authorization: AuthorizationConfig | null
  /**
   * HTTP basic credentials for the monitoring endpoints (all but /healthz); password may be a bcrypt hash; null:
   * open.
   */
  monitoringAuth: { user: string, password: string } | null
  /** TLS for the NATS TCP port (INFO says tls_required) and the WebSocket port (wss); null: plain. */
  tls: TlsConfig | null
}

/** Every option of one broker (or worker). See BROKER_OPTION_TABLE for each one's meaning. */
export type BrokerOptions = ParsedOptions<typeof BROKER_OPTION_TABLE> & StructuredOptions

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
  ...Object.fromEntries(Object.entries(BROKER_OPTION_TABLE).map(([key, spec]) => [key, spec.default])) as unknown as
    ParsedOptions<typeof BROKER_OPTION_TABLE>,
  subjectClasses: DEFAULT_SUBJECT_CLASSES,
  authorization: null,
  monitoringAuth: null,
  tls: null
})

/**
 * The largest WebSocket message taken (`--ws-max-message-bytes`), never less than one command of
 * the largest payload with its control line.
 */
export function wsMessageLimitBytes (o: Pick<BrokerOptions, 'wsMaxMessageBytes' | 'maxPayloadBytes' | 'maxControlLineBytes'>): number {
  return Math.max(o.wsMaxMessageBytes, o.maxPayloadBytes + o.maxControlLineBytes + 64)
}

/** Fills in defaults and checks every number against its row of the table; throws naming the option. */
export function resolveOptions (partial: Partial<BrokerOptions> = {}): BrokerOptions {
  const options: BrokerOptions = { ...DEFAULT_OPTIONS, ...partial }
  for (const [key, spec] of Object.entries(BROKER_OPTION_TABLE) as Array<[
    keyof typeof BROKER_OPTION_TABLE,
    OptionSpec
  ]>) {
    if (spec.type !== 'integer' && spec.type !== 'number') continue
    const value = options[key] as number
    const problem = numberProblem(spec, value)
    if (problem !== null) throw new RangeError(`option ${key} ${problem}, got ${String(value)}`)
  }
  const origins = allowedOriginsProblem(options.wsAllowedOrigins)
  if (origins !== null) throw new RangeError(`option wsAllowedOrigins: ${origins}`)
  const hosts = allowedHostsProblem(options.httpAllowedHosts)
  if (hosts !== null) throw new RangeError(`option httpAllowedHosts: ${hosts}`)
  return options
}

/** The README's limits table (`npm run docs:limits` writes it there; a test keeps it current). */
export function limitsMarkdown (): string {
  const rows = Object.entries(BROKER_OPTION_TABLE).flatMap(([key, spec]: [string, OptionSpec & LimitDoc]) => {
    if (spec.limit === undefined || (spec.type !== 'integer' && spec.type !== 'number')) return []
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
    const value = spec.unit === 'bytes' ? formatBytes(spec.default) : spec.unit === 'ms' ? `${spec.default.toLocaleString('en-US')} ms` : spec.default.toLocaleString('en-US')
    return [`| ${spec.limit.what} (\`--${flag}\`) | ${value} | ${spec.limit.pastIt} |`]
  })
  return ['| limit | default | past it |', '|---|---|---|', ...rows].join('\n')
}
