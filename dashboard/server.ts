/**
 * Serves the dashboard: builds src/app.ts with esbuild at start (in memory; nothing from a
 * CDN), serves the page, the bundle, /config.json (the broker's WebSocket URL) and /api/varz
 * (the broker's monitoring, proxied: the page cannot read another origin's /varz; one answer of
 * the broker's serves every request for VARZ_MAX_AGE_MS, so callers cannot multiply its load).
 * A request naming a host that is not this machine's is refused (DNS rebinding, lib/allowed-hosts.ts).
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import Fastify from 'fastify'
import { refuseOtherHosts } from '../lib/allowed-hosts.ts'
import { coalesced } from '../lib/coalesced.ts'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** How long one answer of the broker's /varz serves every /api/varz request (the pages poll each second). */
export const VARZ_MAX_AGE_MS = 250

export interface DashboardOptions {
  host?: string
  /** 0 = any free port. */
  port: number
  /** The broker's NATS-over-WebSocket URL, as the browser must reach it. */
  wsUrl: string
  /** The broker's /varz, fetched by this server; null when there is none (e.g. no monitoring). */
  varzUrl: string | null
  /** Host names served besides IP addresses and localhost (lib/allowed-hosts.ts); none by default. */
  allowedHosts?: readonly string[]
}

export interface RunningDashboard {
  readonly url: string
  readonly port: number
  close (): Promise<void>
}

export async function buildDashboard (): Promise<string> {
  const result = await build({
    entryPoints: [path.join(HERE, 'src/app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent'
  })
  const out = result.outputFiles[0]
  if (out === undefined) throw new Error('esbuild produced no output for the dashboard')
  return out.text
}

export async function startDashboard (options: DashboardOptions): Promise<RunningDashboard> {
  const [bundle, page] = await Promise.all([buildDashboard(), Promise.resolve(readFileSync(path.join(HERE, 'index.html'), 'utf8'))])
  const icon = readFileSync(path.join(HERE, 'favicon.svg'))
  const app = Fastify({ logger: false })
  refuseOtherHosts(app, options.allowedHosts ?? [], '--allowed-hosts')
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page))
  // The page links /favicon.svg; /favicon.ico answers browsers and tools that ask for it anyway.
  for (const url of ['/favicon.svg', '/favicon.ico']) app.get(url, async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(icon))
  app.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(bundle))
  app.get('/config.json', async () => ({ wsUrl: options.wsUrl }))
  // However many pages (or anyone else) ask, the broker's /varz is asked at most once per
  // VARZ_MAX_AGE_MS: each page polls once a second (reports/dashboard/varz-proxy.md).
  const varzUrl = options.varzUrl
  const brokerVarz = varzUrl === null ? null : coalesced(async () => {
    const res = await fetch(varzUrl, { signal: AbortSignal.timeout(2000) })
    return { status: res.status, body: await res.text() }
  }, VARZ_MAX_AGE_MS)
  app.get('/api/varz', async (_req, reply) => {
    if (brokerVarz === null) return reply.code(404).send({ error: 'no broker monitoring URL configured' })
    try {
      const { status, body } = await brokerVarz()
      return reply.code(status).type('application/json').send(body)
    } catch (err) {
      return reply.code(502).send({ error: `broker monitoring unreachable: ${(err as Error).message}` })
    }
  })
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}`, port, close: () => app.close() }
}
