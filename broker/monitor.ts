/**
 * HTTP monitoring on fastify: /healthz, /varz, /connz, /subsz (nats-server's field names where
 * the meaning is the same, plus tickfan's own), /metrics (Prometheus text via prom-client) and
 * /lvc (the last-value cache as JSON).
 */
import os from 'node:os'
import Fastify, { type FastifyInstance } from 'fastify'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { refuseOtherHosts } from '../lib/allowed-hosts.ts'
import { Authenticator } from './auth.ts'
import type { Client } from './client.ts'
import type { Router } from './router.ts'
import type { UpstreamStats } from './upstream.ts'
import { SHARED_SUBJECTS } from './subject-intern.ts'
import { SHARED_FRAMES, SHARED_WRITE_BUFFERS } from './write-buffer.ts'
import { isValidSubject } from './subjects.ts'
import { parseHeaders, type RoutedMessage } from './wire.ts'

/** Values in one answer of /lvc, unless `limit` asks for fewer (or more, up to LVC_MAX_LIMIT). */
export const LVC_DEFAULT_LIMIT = 1000
export const LVC_MAX_LIMIT = 10_000
/**
 * Message bytes in one answer of /lvc: past them the page ends early (it always holds at least
 * one value) and `next_offset` says where to go on. Without it one GET of a full cache built its
 * whole JSON at once, the broker answering no one meanwhile (reports/broker/monitor-lvc.md).
 */
export const LVC_PAGE_BYTES = 1024 * 1024

/** The page /lvc asked for, or why it cannot be served. Pure. */
export function lvcPage (
  limit: string | undefined, offset: string | undefined
): { limit: number, offset: number } | string {
  const l = limit === undefined ? LVC_DEFAULT_LIMIT : Number(limit)
  const o = offset === undefined ? 0 : Number(offset)
  if (!Number.isInteger(l) || l < 1 || l > LVC_MAX_LIMIT) {
    return `limit must be an integer from 1 to ${LVC_MAX_LIMIT}, got ${JSON.stringify(limit)}`
  }
  if (!Number.isInteger(o) || o < 0) return `offset must be a non-negative integer, got ${JSON.stringify(offset)}`
  return { limit: l, offset: o }
}

/**
 * The subjects of one page: from `offset`, at most `limit`, and no more than LVC_PAGE_BYTES of
 * message bytes (`bytesOf`) once the first is in. Pure.
 */
export function pageOfValues (
  subjects: readonly string[], page: { limit: number, offset: number }, bytesOf: (subject: string) => number
): string[] {
  const out: string[] = []
  let bytes = 0
  for (let i = page.offset; i < subjects.length && out.length < page.limit; i++) {
    const subject = subjects[i] as string
    bytes += bytesOf(subject)
    if (out.length > 0 && bytes > LVC_PAGE_BYTES) break
    out.push(subject)
  }
  return out
}

export const SERVER_VERSION = '2.10.0'
export const TICKFAN_VERSION = '0.1.0'

export interface MonitorContext {
  router: Router
  /** Event-loop delay since start (perf_hooks), nanoseconds. */
  eventLoopDelay?: { percentile (p: number): number, max: number, mean: number }
  serverId: string
  host: string
  port: () => number
  wsPort: () => number
  /** HTTP basic credentials required for every endpoint but /healthz; null = open. */
  auth?: { user: string, password: string } | null
  /** The upstream link's state, when this node has one. */
  upstream?: () => UpstreamStats | null
  /** Connections at once (monitoringApp); a worker's own monitor, asked only by its primary, has no cap. */
  maxConnections?: number
  /**
   * A worker's own monitor, asked only by its primary: /connz answers any `limit` (the primary
   * asks each worker for `offset + limit` to merge them, and caps what it is asked itself).
   */
  connzUncapped?: boolean
  /** Host names served besides IP addresses and localhost (`--http-allowed-hosts`, lib/allowed-hosts.ts). */
  allowedHosts: readonly string[]
}

/** Connections a public monitoring port serves at once: Node closes one past it at once. */
export const MONITOR_MAX_CONNECTIONS = 32
/** A monitoring connection with no byte either way for this long is closed (an idle keep-alive one too). */
export const MONITOR_IDLE_MS = 10_000

/**
 * The HTTP app of a monitoring port, bounded: connections that never speak would otherwise hold
 * the broker's files for ever (Node gives a silent socket no limit), eating the files kept free
 * beside the clients (lib/open-files.ts) until accept() fails and NATS clients are cut off
 * without a word. `maxConnections`: undefined for none.
 */
export function monitoringApp (maxConnections: number | undefined, allowedHosts: readonly string[]): FastifyInstance {
  const app = Fastify({ logger: false, connectionTimeout: MONITOR_IDLE_MS })
  if (maxConnections !== undefined) app.server.maxConnections = maxConnections
  // First of the hooks: a rebinding page is refused before it is asked for credentials.
  refuseOtherHosts(app, allowedHosts, '--http-allowed-hosts')
  return app
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function cpuSampler (): () => number {
  let last = process.cpuUsage()
  let lastAt = process.hrtime.bigint()
  return () => {
    const now = process.hrtime.bigint()
    const usage = process.cpuUsage()
    const elapsedUs = Number(now - lastAt) / 1000
    const percent = elapsedUs <= 0 ? 0 : ((usage.user - last.user + usage.system - last.system) / elapsedUs) * 100
    last = usage
    lastAt = now
    return Math.round(percent * 10) / 10
  }
}

export function varz (ctx: MonitorContext, cpuPercent: number): Record<string, unknown> {
  const { router } = ctx
  const { options, stats } = router
  const totals = router.totals()
  const upstream = ctx.upstream?.() ?? null
  const now = router.now()
  const memory = process.memoryUsage()
  return {
    server_id: ctx.serverId,
    server_name: options.serverName,
    version: SERVER_VERSION,
    tickfan_version: TICKFAN_VERSION,
    proto: 1,
    host: ctx.host,
    port: ctx.port(),
    websocket: { port: ctx.wsPort() },
    max_connections: options.maxConnections,
    ping_interval: options.pingIntervalMs * 1e6,
    ping_max: options.maxPingsOutstanding,
    max_control_line: options.maxControlLineBytes,
    max_payload: options.maxPayloadBytes,
    max_pending: options.maxPendingEventBytes,
    start: new Date(router.startedAtMs).toISOString(),
    now: new Date(now).toISOString(),
    uptime: `${Math.round((now - router.startedAtMs) / 1000)}s`,
    mem: memory.rss,
    cores: os.availableParallelism(),
    cpu: cpuPercent,
    connections: router.clients.size,
    total_connections: stats.totalConnections,
    in_msgs: stats.inMsgs,
    out_msgs: totals.outMsgs,
    // Headers and payloads, as nats-server counts them; the protocol bytes are under tickfan.
    in_bytes: stats.inBytes,
    out_bytes: totals.outPayloadBytes,
    slow_consumers: stats.slowConsumers,
    subscriptions: router.trie.size,
    tickfan: {
      event_loop_delay_p50_ms: ctx.eventLoopDelay === undefined ? null : ctx.eventLoopDelay.percentile(50) / 1e6,
      event_loop_delay_p99_ms: ctx.eventLoopDelay === undefined ? null : ctx.eventLoopDelay.percentile(99) / 1e6,
      event_loop_delay_max_ms: ctx.eventLoopDelay === undefined ? null : ctx.eventLoopDelay.max / 1e6,
      heap_used: memory.heapUsed,
      heap_total: memory.heapTotal,
      external_memory: memory.external,
      array_buffers: memory.arrayBuffers,
      deliveries: stats.deliveries,
      conflated: totals.conflated,
      socket_writes: totals.writes,
      wire_out_bytes: totals.outBytes,
      older_dropped: router.lastValues.olderDropped,
      conflating_connections: router.conflatingClients.size,
      conflation_starts: stats.conflationStarts,
      slow_consumers_by_reason: stats.slowConsumersByReason,
      closed_by_reason: stats.closedByReason,
      protocol_errors: stats.protocolErrors,
      rejected_connections: stats.rejectedConnections,
      no_responders: stats.noResponders,
      fanout_turns: router.scheduler.turns,
      // Subjects read off the wire found in the interned table (hits) or sliced anew (misses): a
      // falling hit rate means more live subjects than the table's 4,096 slots.
      subject_table: { hits: SHARED_SUBJECTS.hits, misses: SHARED_SUBJECTS.misses },
      // Socket-write buffers made, and taken again from the pool once a write finished (write-buffer.ts).
      write_buffers: { allocated: SHARED_WRITE_BUFFERS.allocated, reused: SHARED_WRITE_BUFFERS.reused },
      // Frame-arena slabs made, and taken again once nothing held them (write-buffer.ts FrameArena).
      frame_slabs: { allocated: SHARED_FRAMES.allocated, reused: SHARED_FRAMES.reused },
      publishers_held_back: router.pacing.heldBack,
      publisher_holds_expired: router.pacing.holdsExpired,
      publishers_held_now: router.pacing.holding,
      last_value_subjects: router.lastValues.size,
      history: router.jetstream === null ? null : {
        consumers: router.jetstream.consumerCount,
        consumers_removed_idle: router.jetstream.removedIdle,
        consumers_refused: router.jetstream.refused,
        serving: router.links === null,
        streams: router.jetstream.streamList.map((s) => ({
          name: s.config.name,
          subjects: s.config.subjects,
          messages: s.messages,
          bytes: s.bytes,
          // Slab bytes it holds: its messages plus holes not yet closed (at most about twice `bytes`).
          held_bytes: s.heldBytes,
          // Slabs taken since the start (--history-preallocate takes them all at once).
          slabs_allocated: s.slabsAllocated,
          // Blocks of its per-message columns (4,096 messages each) taken since the start.
          blocks_allocated: s.blocksAllocated,
          first_seq: s.firstSeq,
          last_seq: s.lastSeq,
          duplicates: s.duplicates,
          // Not stored: a header block past 64 KiB, as nats-server's JetStream refuses (error 10097).
          headers_too_large: s.headersTooLarge,
          removed: s.removed
        }))
      },
      large_message_collections: router.largeMessageGc.collections,
      large_message_collect_ms: Math.round(router.largeMessageGc.collectMs * 1000) / 1000,
      last_value_bytes: router.lastValues.bytes,
      last_value_evicted: router.lastValues.evicted,
      high_water_bytes: options.highWaterBytes,
      max_stale_ms: options.maxStaleMs,
      max_blocked_ms: options.maxBlockedMs,
      ...(upstream != null ? { upstream } : router.links !== null ? { worker_links: router.links.stats } : {})
    }
  }
}

/**
 * Subscriptions one answer of `/connz?subs=1` lists, over all its connections: past them a
 * connection's list is cut and says so (`subscriptions_list_truncated`). Without it a million
 * subscriptions made one answer of 32 MiB that held the broker for 0.65-0.86 s
 * (reports/broker/monitor-lvc.md).
 */
export const CONNZ_MAX_SUBSCRIPTIONS_LISTED = 10_000

/**
 * Connections in one /connz answer at most, and when `limit` is not given: nats-server's page.
 * A larger `limit` is cut to it, and the answer's `limit` says so; nats-server takes any. Each
 * connection's record is built while the broker waits: 10,000 in one answer held other clients
 * 183-207 ms here (reports/broker/monitor-lvc.md, "/connz with a large limit").
 */
export const CONNZ_MAX_LIMIT = 1024

/** /connz's `limit` and `offset`, the limit cut to CONNZ_MAX_LIMIT unless `uncapped`; or what is wrong with them. */
export function connzPage (
  limit: string | undefined, offset: string | undefined, uncapped = false
): { limit: number, offset: number } | string {
  const l = limit === undefined ? CONNZ_MAX_LIMIT : Number(limit)
  const o = offset === undefined ? 0 : Number(offset)
  if (!Number.isInteger(l) || l < 0 || !Number.isInteger(o) || o < 0) return 'limit and offset must be non-negative integers'
  return { limit: uncapped ? l : Math.min(l, CONNZ_MAX_LIMIT), offset: o }
}

/**
 * One connection in `/connz`. `subs`: the subscriptions still to be listed in this answer
 * (CONNZ_MAX_SUBSCRIPTIONS_LISTED at its start, shared by its connections), or null for none.
 */
export function connInfo (client: Client, now: number, subs: { left: number } | null): Record<string, unknown> {
  const oldest = client.outbox.oldestPendingAtMs()
  const info: Record<string, unknown> = {
    cid: client.cid,
    kind: 'Client',
    type: client.transport.kind === 'tcp' ? 'nats' : 'websocket',
    ip: client.transport.remoteAddress,
    port: client.transport.remotePort,
    start: new Date(client.acceptedAtMs).toISOString(),
    uptime: `${Math.round(((client.isClosed ? client.closedAtMs : now) - client.acceptedAtMs) / 1000)}s`,
    rtt: client.keepAlive.rttMs < 0 ? '' : `${client.keepAlive.rttMs}ms`,
    pending_bytes: client.isClosed ? 0 : client.writer.pendingBytes,
    ...(client.rights.user !== null ? { authorized_user: client.rights.user } : {}),
    in_msgs: client.inMsgs,
    rate_limit_pauses: client.rateLimit.throttled + client.subscriptionOps.throttled,
    out_msgs: client.writer.outMsgs,
    in_bytes: client.inPayloadBytes,
    out_bytes: client.writer.outPayloadBytes,
    subscriptions: client.subscriptions.size,
    name: client.options.name,
    lang: client.options.lang,
    version: client.options.version,
    tickfan: {
      conflated: client.writer.conflated,
      conflating: client.outbox.conflating,
      staleness_ms: oldest === undefined ? 0 : now - oldest,
      socket_writes: client.writer.writes,
      wire_in_bytes: client.inBytes,
      wire_out_bytes: client.writer.outBytes,
      flow_window_bytes: client.writer.flowWindowBytes,
      in_flight_bytes: client.writer.inFlightBytes,
      fanout_turns: client.fairness.turns,
      first_share: client.fairness.firstShare,
      mean_rank: client.fairness.meanRank
    }
  }
  if (client.isClosed) info.reason = client.closeReason
  if (subs !== null) {
    const listed: string[] = []
    for (const s of client.subscriptions.values()) {
      if (subs.left === 0) {
        info.subscriptions_list_truncated = true
        break
      }
      listed.push(s.queue === undefined ? s.subject : `${s.subject} ${s.queue}`)
      subs.left--
    }
    info.subscriptions_list = listed
  }
  return info
}

type ConnSortKey = 'cid' | 'pending' | 'msgs_to' | 'msgs_from' | 'bytes_to' | 'bytes_from' | 'subs' | 'conflated'
const SORTS: Record<ConnSortKey, (c: Client) => number> = {
  cid: (c) => c.cid,
  pending: (c) => -c.writer.pendingBytes,
  msgs_to: (c) => -c.writer.outMsgs,
  msgs_from: (c) => -c.inMsgs,
  bytes_to: (c) => -c.writer.outPayloadBytes,
  bytes_from: (c) => -c.inPayloadBytes,
  subs: (c) => -c.subscriptions.size,
  conflated: (c) => -c.writer.conflated
}

export function createMetrics (ctx: MonitorContext): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'tickfan_process_' })
  const { router } = ctx
  const counter = (name: string, help: string, read: () => number): void => {
    // prom-client counters only go up; on scrape we replace the value with our own total.
    new Counter({ name, help, registers: [registry], collect () { this.reset(); this.inc(read()) } })
  }
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect () { this.set(read()) } })
  }
  counter('tickfan_in_msgs_total', 'Messages published by clients', () => router.stats.inMsgs)
  counter('tickfan_in_bytes_total', 'Headers and payload bytes of the messages published by clients', () => router.stats.inBytes)
  counter('tickfan_out_msgs_total', 'Messages written to subscribers', () => router.totals().outMsgs)
  counter('tickfan_out_bytes_total', 'Headers and payload bytes of the messages written to subscribers', () => router.totals().outPayloadBytes)
  counter('tickfan_wire_out_bytes_total', 'Bytes written to subscribers, protocol included', () => router.totals().outBytes)
  counter('tickfan_socket_writes_total', 'Socket writes (one per connection per flush turn)', () => router.totals().writes)
  counter('tickfan_conflated_total', 'Deliveries superseded by a newer value for a slow consumer', () => router.totals().conflated)
  counter('tickfan_older_dropped_total', 'Last-value messages dropped as older than the cached value', () => router.lastValues.olderDropped)
  counter('tickfan_slow_consumers_total', 'Connections closed as slow consumers', () => router.stats.slowConsumers)
  counter('tickfan_connections_total', 'Connections accepted', () => router.stats.totalConnections)
  gauge('tickfan_history_messages', 'Messages held in history streams', () => router.jetstream?.streamList.reduce((n, s) => n + s.messages, 0) ?? 0)
  gauge('tickfan_history_bytes', 'Bytes held in history streams', () => router.jetstream?.streamList.reduce((n, s) => n + s.bytes, 0) ?? 0)
  counter('tickfan_history_removed_total', 'Messages that left history streams (age, bytes, per-subject limits)', () => router.jetstream?.streamList.reduce((n, s) => n + s.removed.age + s.removed.bytes + s.removed.perSubject, 0) ?? 0)
  counter('tickfan_large_message_collections_total', 'Full garbage collections run for the dead buffers of large messages', () => router.largeMessageGc.collections)
  new Counter({
    name: 'tickfan_conflation_starts_total',
    help: 'Times a connection started conflating, judged too far behind to be written to, by cause',
    labelNames: ['cause'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [cause, n] of Object.entries(router.stats.conflationStarts)) this.inc({ cause }, n)
    }
  })
  counter('tickfan_fanout_turns_total', 'Flush turns run by the fan-out scheduler', () => router.scheduler.turns)
  gauge('tickfan_connections', 'Open connections', () => router.clients.size)
  gauge('tickfan_subscriptions', 'Subscriptions', () => router.trie.size)
  gauge('tickfan_conflating_connections', 'Connections currently conflating', () => router.conflatingClients.size)
  gauge('tickfan_last_value_subjects', 'Subjects in the last-value cache', () => router.lastValues.size)
  gauge('tickfan_pending_bytes', 'Bytes waiting for all connections (outboxes and socket buffers)', () => {
    let sum = 0
    for (const c of router.clients.values()) sum += c.writer.pendingBytes
    return sum
  })
  return registry
}

/**
 * HTTP basic auth on every endpoint but /healthz, with the same checks as NATS users (bcrypt or
 * plain, constant-time, verified hashes remembered).
 */
export function requireBasicAuth (app: FastifyInstance, credentials: { user: string, password: string }): void {
  const checker = new Authenticator({ users: [{ user: credentials.user, password: credentials.password }] })
  app.addHook('onClose', async () => { await checker.close() })
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz') return
    const header = req.headers.authorization ?? ''
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : ''
    const colon = decoded.indexOf(':')
    const result = colon < 0 ? { ok: false } : await checker.authenticate({
      user: decoded.slice(0, colon),
      pass: decoded.slice(colon + 1)
    }, req.ip)
    if (!result.ok) {
      return reply.code(401).header('www-authenticate', 'Basic realm="tickfan monitoring"').send({ error: 'monitoring requires credentials (HTTP basic)' })
    }
  })
}

export async function createMonitor (ctx: MonitorContext): Promise<FastifyInstance> {
  const app = monitoringApp(ctx.maxConnections, ctx.allowedHosts)
  const registry = createMetrics(ctx)
  const sampleCpu = cpuSampler()
  const { router } = ctx

  if (ctx.auth != null) requireBasicAuth(app, ctx.auth)

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/varz', async () => varz(ctx, sampleCpu()))

  app.get<{ Querystring: Record<string, string | undefined> }>('/connz', async (req, reply) => {
    const q = req.query
    const state = q.state ?? 'open'
    if (!['open', 'closed', 'all'].includes(state)) return reply.code(400).send({ error: `state must be open, closed or all, got ${JSON.stringify(state)}` })
    const sort = (q.sort ?? 'cid') as ConnSortKey
    if (!(sort in SORTS)) return reply.code(400).send({ error: `sort must be one of ${Object.keys(SORTS).join(', ')}, got ${JSON.stringify(q.sort)}` })
    const page = connzPage(q.limit, q.offset, ctx.connzUncapped)
    if (typeof page === 'string') return reply.code(400).send({ error: page })
    const { limit, offset } = page
    const subs = q.subs === '1' || q.subs === 'true' ? { left: CONNZ_MAX_SUBSCRIPTIONS_LISTED } : null
    let list: Client[] = []
    if (state !== 'closed') list.push(...router.clients.values())
    if (state !== 'open') list.push(...router.closedClients)
    const key = SORTS[sort]
    list = list.sort((a, b) => key(a) - key(b))
    const now = router.now()
    // What a multi-worker broker's primary asks its workers for a page past the first
    // CONNZ_MAX_LIMIT connections (cluster-monitor.ts): the sort keys of the first
    // `offset + limit`, then the records of the connections on the merged page.
    if (ctx.connzUncapped === true && q.keys === '1') {
      const keys: number[] = []
      for (const c of list.slice(offset, offset + limit)) keys.push(key(c), c.cid)
      return { total: list.length, keys }
    }
    if (ctx.connzUncapped === true && q.cids !== undefined) {
      const wanted = new Set(q.cids.split(',').map(Number))
      return { connections: list.filter((c) => wanted.has(c.cid)).map((c) => connInfo(c, now, subs)) }
    }
    return {
      server_id: ctx.serverId,
      now: new Date(now).toISOString(),
      num_connections: Math.max(0, Math.min(limit, list.length - offset)),
      total: list.length,
      offset,
      limit,
      connections: list.slice(offset, offset + limit).map((c) => connInfo(c, now, subs))
    }
  })

  app.get('/subsz', async () => {
    const { trie, stats } = router
    return {
      server_id: ctx.serverId,
      now: new Date(router.now()).toISOString(),
      num_subscriptions: trie.size,
      num_cache: trie.cachedSubjects,
      num_matches: trie.matches,
      cache_hit_rate: trie.matches === 0 ? 0 : trie.cacheHits / trie.matches,
      max_fanout: stats.maxFanout,
      avg_fanout: stats.routedMsgs === 0 ? 0 : stats.deliveries / stats.routedMsgs
    }
  })

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType)
    return registry.metrics()
  })
  // The same metrics as prom-client's JSON, for a multi-worker broker's primary to add up.
  app.get('/metrics/json', async () => await registry.getMetricsAsJSON())

  app.get<{ Querystring: Record<string, string | undefined> }>('/lvc', async (req, reply) => {
    const q = req.query
    const subject = q.subject ?? '>'
    // Query strings arrive as UTF-8 text; the broker keys subjects by their bytes (latin1).
    const key = Buffer.from(subject, 'utf8').toString('latin1')
    if (!isValidSubject(key)) return reply.code(400).send({ error: `invalid subject ${JSON.stringify(subject)}` })
    const page = lvcPage(q.limit, q.offset)
    if (typeof page === 'string') return reply.code(400).send({ error: page })
    const subjects = router.lastValues.subjectsMatching(key)
    const chosen = pageOfValues(subjects, page, (s) => router.lastValues.get(s)?.bodyLength ?? 0)
    const values = chosen.map((s) => {
      const msg = router.lastValues.get(s) as RoutedMessage
      const payload = msg.payload()
      let text: string | undefined
      try { text = utf8.decode(payload) } catch { text = undefined }
      const headers = msg.headerBytes > 0 ? parseHeaders(msg.headerText()).headers : {}
      return {
        subject: Buffer.from(msg.subject, 'latin1').toString('utf8'),
        sequence: msg.sequence ?? null,
        published_at: new Date(msg.publishedAtMs).toISOString(),
        headers,
        ...(text === undefined ? { payload_base64: payload.toString('base64') } : { payload: text })
      }
    })
    const end = page.offset + values.length
    const next = end < subjects.length ? end : null
    return { subject, count: subjects.length, offset: page.offset, limit: page.limit, next_offset: next, values }
  })

  return app
}
