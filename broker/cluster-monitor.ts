/**
 * Monitoring for a multi-worker broker: the primary serves the usual endpoints on the monitoring
 * port by asking every worker's own monitor (on a private loopback port, behind a per-run
 * credential) and adding the answers up. The merge functions are pure.
 *
 * - /varz: counts and bytes summed (memory and CPU too: the broker is all its processes);
 *   event-loop delays are the worst worker's; `workers` says how many; the primary's
 *   connection dealer's counts in `tickfan.connection_dealer`.
 * - /connz: every worker's connections (connection ids are distinct across workers), sorted
 *   and cut to `offset`/`limit` after merging. A page within the first CONNZ_MAX_LIMIT: each
 *   worker's records of its first `offset + limit`, merged. A page past them: each worker's sort
 *   keys of its first `offset + limit` (two numbers each), merged to the page, then each worker's
 *   records of its connections on the page; before, each worker built `offset + limit` records
 *   for every deep page (reports/broker/monitor-lvc.md, "A deep page on many workers").
 * - /subsz: summed; /metrics: prom-client's cluster aggregation; /lvc: one worker's cache
 *   (every worker holds every value).
 */
import type { FastifyInstance } from 'fastify'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import { CONNZ_MAX_LIMIT, connzPage, MONITOR_MAX_CONNECTIONS, monitoringApp, requireBasicAuth } from './monitor.ts'

type Json = Record<string, unknown>

/** Keys where the merged value is the largest, not the sum. */
const MAX_KEYS = new Set(['event_loop_delay_p50_ms', 'event_loop_delay_p99_ms', 'event_loop_delay_max_ms', 'max_fanout', 'uptime_seconds'])
/** Keys that are settings or identity: the first worker's value stands. */
const FIRST_KEYS = new Set(['port', 'max_connections', 'ping_interval', 'ping_max', 'max_control_line', 'max_payload', 'max_pending', 'cores', 'proto',
  'high_water_bytes', 'max_stale_ms', 'max_blocked_ms', 'last_value_subjects', 'last_value_bytes', 'num_cache'])

/** Adds up JSON documents of the same shape: numbers summed (or maxed), maps merged, text from the first. */
export function mergeSums (docs: readonly Json[]): Json {
  const out: Json = {}
  for (const doc of docs) {
    for (const [key, value] of Object.entries(doc)) {
      const have = out[key]
      if (have === undefined) { out[key] = typeof value === 'object' && value !== null && !Array.isArray(value) ? mergeSums([value as Json]) : value; continue }
      if (typeof value === 'number' && typeof have === 'number') {
        out[key] = FIRST_KEYS.has(key) ? have : MAX_KEYS.has(key) ? Math.max(have, value) : have + value
      } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof have === 'object' && have !== null) {
        out[key] = mergeSums([have as Json, value as Json])
      }
    }
  }
  return out
}

export function mergeVarz (docs: readonly Json[], serverId: string): Json {
  return { ...mergeSums(docs), server_id: serverId, workers: docs.length }
}

/** Sort keys of /connz and the field each sorts by (cid ascending, the rest descending). */
const CONNZ_SORT: Record<string, (c: Json) => number> = {
  cid: (c) => c.cid as number,
  pending: (c) => -(c.pending_bytes as number),
  msgs_to: (c) => -(c.out_msgs as number),
  msgs_from: (c) => -(c.in_msgs as number),
  bytes_to: (c) => -(c.out_bytes as number),
  bytes_from: (c) => -(c.in_bytes as number),
  subs: (c) => -(c.subscriptions as number),
  conflated: (c) => -((c.tickfan as Json | undefined)?.conflated as number ?? 0)
}

export function mergeConnz (
  docs: readonly Json[],
  o: { sort: string, offset: number, limit: number, serverId: string }
): Json {
  const all = docs.flatMap((d, worker) => (d.connections as Json[]).map((c) => ({ ...c, worker })))
  const key = CONNZ_SORT[o.sort] ?? CONNZ_SORT.cid as (c: Json) => number
  all.sort((a, b) => key(a) - key(b))
  return connzAnswer(all.slice(o.offset, o.offset + o.limit), all.length, o)
}

type ConnzPageOf = { offset: number, limit: number, serverId: string }

/** A merged /connz answer of `connections`, `total` in all. */
function connzAnswer (connections: Json[], total: number, o: ConnzPageOf): Json {
  return {
    server_id: o.serverId,
    now: new Date().toISOString(),
    num_connections: connections.length,
    total,
    offset: o.offset,
    limit: o.limit,
    connections
  }
}

/**
 * The page of a /connz merged from every worker's sort keys (`keys`: [key, cid, key, cid, …] of
 * its first `offset + limit` connections, in its order): which connection of which worker is on
 * it, in order, as mergeConnz orders their records (by key, then worker, then the worker's order).
 */
export function mergeConnzKeys (
  docs: ReadonlyArray<{ total: number, keys: readonly number[] }>,
  o: { offset: number, limit: number }
): { total: number, page: Array<{ worker: number, cid: number }> } {
  const all: Array<{ key: number, worker: number, cid: number }> = []
  let total = 0
  docs.forEach((d, worker) => {
    total += d.total
    for (let i = 0; i + 1 < d.keys.length; i += 2) {
      all.push({ key: d.keys[i] as number, worker, cid: d.keys[i + 1] as number })
    }
  })
  all.sort((a, b) => a.key - b.key)
  return { total, page: all.slice(o.offset, o.offset + o.limit).map(({ worker, cid }) => ({ worker, cid })) }
}

export interface WorkerMonitor {
  url: string
}

export interface ClusterMonitorOptions {
  workers: () => readonly WorkerMonitor[]
  /** Credentials the workers' private monitors require. */
  internalAuth: { user: string, password: string }
  /** Credentials the public endpoints require (all but /healthz); null = open. */
  auth: { user: string, password: string } | null
  serverId: string
  /** Host names served besides IP addresses and localhost (`--http-allowed-hosts`). */
  allowedHosts: readonly string[]
  /** The primary's own counts, shown in /varz as `tickfan.connection_dealer`. */
  dealer?: () => Json
}

export async function createClusterMonitor (o: ClusterMonitorOptions): Promise<FastifyInstance> {
  const app = monitoringApp(MONITOR_MAX_CONNECTIONS, o.allowedHosts)
  const authorization = `Basic ${Buffer.from(`${o.internalAuth.user}:${o.internalAuth.password}`).toString('base64')}`
  const ask = async (w: WorkerMonitor, path: string): Promise<Response> => {
    const res = await fetch(`${w.url}${path}`, { headers: { authorization } })
    if (!res.ok) throw new Error(`worker monitor ${w.url}${path}: HTTP ${res.status}`)
    return res
  }
  const askAll = async (path: string): Promise<Json[]> =>
    await Promise.all(o.workers().map(async (w) => await (await ask(w, path)).json() as Json))

  if (o.auth !== null) requireBasicAuth(app, o.auth)

  app.get('/healthz', async () => ({ status: 'ok', workers: o.workers().length }))
  app.get('/varz', async () => {
    const merged = mergeVarz(await askAll('/varz'), o.serverId)
    if (o.dealer === undefined) return merged
    return { ...merged, tickfan: { ...(merged.tickfan as Json | undefined), connection_dealer: o.dealer() } }
  })
  app.get('/subsz', async () => ({ ...mergeSums(await askAll('/subsz')), server_id: o.serverId }))
  app.get<{ Querystring: Record<string, string | undefined> }>('/connz', async (req, reply) => {
    const q = req.query
    const page = connzPage(q.limit, q.offset)
    if (typeof page === 'string') return reply.code(400).send({ error: page })
    const { limit, offset } = page
    const asked = Object.fromEntries(
      Object.entries(q).filter(([k, v]) => v !== undefined && k !== 'keys' && k !== 'cids')
    ) as Record<string, string>
    const workers = o.workers()
    /** Each worker's answer to /connz with `params` (and the asked ones), or the first refusal. */
    type Refusal = { status: number, body: Json }
    const askConnz = async (params: (worker: number) => Record<string, string>): Promise<Json[] | Refusal> => {
      const responses = await Promise.all(workers.map(async (w, i) =>
        await fetch(`${w.url}/connz?${new URLSearchParams({ ...asked, ...params(i) }).toString()}`, { headers: { authorization } })))
      const bad = responses.find((r) => !r.ok)
      if (bad !== undefined) return { status: bad.status, body: await bad.json() as Json }
      return await Promise.all(responses.map(async (r) => await r.json() as Json))
    }
    const first = { offset: '0', limit: String(offset + limit) }
    if (offset + limit <= CONNZ_MAX_LIMIT) {
      const docs = await askConnz(() => first)
      if (!Array.isArray(docs)) return reply.code(docs.status).send(docs.body)
      return mergeConnz(docs, { sort: q.sort ?? 'cid', offset, limit, serverId: o.serverId })
    }
    const keyDocs = await askConnz(() => ({ ...first, keys: '1' }))
    if (!Array.isArray(keyDocs)) return reply.code(keyDocs.status).send(keyDocs.body)
    const merged = mergeConnzKeys(keyDocs as unknown as Array<{ total: number, keys: number[] }>, { offset, limit })
    const cidsOf = workers.map((_, i) => merged.page.filter((p) => p.worker === i).map((p) => p.cid))
    const recordDocs = await askConnz((i) => ({ cids: (cidsOf[i] as number[]).join(',') }))
    if (!Array.isArray(recordDocs)) return reply.code(recordDocs.status).send(recordDocs.body)
    const records = new Map<string, Json>()
    recordDocs.forEach((d, worker) => { for (const c of d.connections as Json[]) records.set(`${worker} ${String(c.cid)}`, { ...c, worker }) })
    // A connection gone between the two asks is left out.
    const connections = merged.page.flatMap((p): Json[] => { const r = records.get(`${p.worker} ${p.cid}`); return r === undefined ? [] : [r] })
    return connzAnswer(connections, merged.total, { offset, limit, serverId: o.serverId })
  })
  app.get('/metrics', async (_req, reply) => {
    const docs = await Promise.all(o.workers().map(async (w) => await (await ask(w, '/metrics/json')).json() as Array<MetricObjectWithValues<MetricValue<string>>>))
    const registry = AggregatorRegistry.aggregate(docs)
    reply.header('content-type', registry.contentType)
    return await registry.metrics()
  })
  app.get('/lvc', async (req, reply) => {
    const first = o.workers()[0]
    if (first === undefined) return reply.code(503).send({ error: 'no worker is running' })
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''
    const res = await fetch(`${first.url}/lvc${query}`, { headers: { authorization } })
    return reply.code(res.status).send(await res.json())
  })
  return app
}
