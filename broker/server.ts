/**
 * Assembles a running broker: the core router, a TCP listener, a WebSocket listener (fastify +
 * @fastify/websocket, any path) and the HTTP monitor, plus the sweep that enforces liveness
 * and staleness limits. `startBroker` is what the CLI, the demo and the tests use.
 */
import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import { createLogger, type Logger } from '../lib/logger.ts'
import { connectionsWithinFileLimit, FILES_KEPT_FREE, readOpenFiles } from '../lib/open-files.ts'
import { listenTcp } from '../lib/ports.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
import type { Client } from './client.ts'
import { closeSchedule } from './lame-duck.ts'
import { createMonitor, MONITOR_MAX_CONNECTIONS, SERVER_VERSION, TICKFAN_VERSION } from './monitor.ts'
import { BROKER_OPTION_TABLE, resolveOptions, wsMessageLimitBytes, type BrokerOptions } from './options.ts'
import { Router, type RouterDeps } from './router.ts'
import type { Door } from './connection-dealer.ts'
import { attachTcp, attachWebSocket, HandshakeDeadline, type Acceptor } from './transports.ts'
import { UpstreamLink } from './upstream.ts'
import { originRefusal } from './ws-origin.ts'

export interface RunningBroker {
  readonly router: Router
  readonly options: BrokerOptions
  readonly serverId: string
  /** Bound ports (useful when 0 was asked for). -1 when the listener is disabled. */
  readonly port: number
  readonly wsPort: number
  readonly httpPort: number
  readonly natsUrl: string
  readonly wsUrl: string | null
  readonly httpUrl: string | null
  /** Flushes what is pending, closes every connection and every listener. */
  close (): Promise<void>
  /** Lame-duck mode (lame-duck.ts): no new connections, clients told and closed over time, then close(). */
  lameDuck (): Promise<void>
  /**
   * Serves a connection accepted elsewhere (a worker's, dealt by the primary) as if it came in on
   * `door`; `full`: the broker holds its limit of connections across workers, so it is refused
   * as one past this process's own limit is.
   */
  take (door: Door, socket: net.Socket, full?: boolean): void
}

export interface StartBrokerDeps extends RouterDeps {
  logger?: Logger
  /** Interval of the liveness/staleness sweep. Default 100 ms. */
  sweepIntervalMs?: number
  /**
   * A worker of a multi-worker broker: it listens on no public port (the primary accepts there
   * and deals it connections, which it serves through `take`; `ports` are the primary's, for its
   * INFO and URLs), its monitor listens on a loopback port of its own, and `serverId` is given.
   */
  worker?: { serverId: string, ports: { port: number, wsPort: number } }
}

function displayHost (host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
}

/**
 * `options` with maxConnections lowered, saying so, where the open-file limit leaves room for
 * fewer: past that limit a client would be cut off without a reason (lib/open-files.ts). A
 * limit other than the default was asked for: lowered with a warning; the default, with an info line.
 */
function withinOpenFileLimit (options: BrokerOptions, asked: boolean, logger: Logger): BrokerOptions {
  const files = readOpenFiles()
  if (files === null) return options
  const fits = connectionsWithinFileLimit(options.maxConnections, files.limit, files.open)
  if (fits === options.maxConnections) return options
  const said = asked ? 'asked for' : 'the default'
  logger[asked ? 'warn' : 'info'](
    { requested: options.maxConnections, lowered: fits, openFileLimit: files.limit, openFiles: files.open },
    `max_connections lowered from ${options.maxConnections} (${said}) to ${fits}: this process may open ${files.limit} ` +
    `files (ulimit -n), ${files.open} are open and ${FILES_KEPT_FREE} are kept free. Raise the limit to accept more`
  )
  return { ...options, maxConnections: fits }
}

export async function startBroker (
  partial: Partial<BrokerOptions> = {},
  deps: StartBrokerDeps = {}
): Promise<RunningBroker> {
  const resolved = resolveOptions(partial)
  const logger = deps.logger ?? createLogger(resolved.logLevel)
  const askedConnections = resolved.maxConnections !== BROKER_OPTION_TABLE.maxConnections.default
  const options = withinOpenFileLimit(resolved, askedConnections, logger)
  const router = new Router(options, deps)
  const serverId = deps.worker?.serverId ?? `TICKFAN${randomBytes(8).toString('hex').toUpperCase()}`
  let port = -1
  let wsPort = -1

  const infoFor = (cid: number, transport: { remoteAddress: string }, ldm = false): string => `INFO ${JSON.stringify({
    server_id: serverId,
    server_name: options.serverName,
    version: SERVER_VERSION,
    proto: 1,
    go: `tickfan ${TICKFAN_VERSION} on node ${process.version}`,
    host: options.host,
    port,
    headers: true,
    max_payload: options.maxPayloadBytes,
    ...(router.authenticator.required ? { auth_required: true } : {}),
    ...(options.tls !== null ? { tls_required: true } : {}),
    client_id: cid,
    client_ip: transport.remoteAddress,
    ...(ldm ? { ldm: true } : {})
  })}\r\n`
  let inLameDuck = false
  // A flood of connections past the limit costs a log line every 10 s, not one each.
  const refusals = new ThrottledLog((_key, remote, suppressed) => {
    logger.warn({ remote, maxConnections: options.maxConnections, moreRefusedUnlogged: suppressed },
      'connection refused: maximum connections reached')
  })
  const originRefusals = new ThrottledLog((_key, refusal, suppressed) => {
    logger.warn({ moreRefusedUnlogged: suppressed }, `WebSocket connection refused: ${refusal}`)
  })
  const accept: Acceptor = (transport) => {
    if (inLameDuck) {
      // Going away: a client that still reaches this broker (WebSocket, a connection in flight) goes elsewhere.
      transport.close(null)
      return null
    }
    const client = router.accept(transport, (cid) => infoFor(cid, transport))
    if (client === null) refusals.note('maxConnections', transport.remoteAddress)
    return client
  }

  const secureContext = options.tls === null ? null : tls.createSecureContext({
    cert: options.tls.cert,
    key: options.tls.key
  })
  // The backbone first: a node that cannot reach any upstream server fails at start, saying so.
  let upstream: UpstreamLink | null = null
  if (options.upstream.length > 0) {
    try {
      upstream = await UpstreamLink.connect(router, {
        servers: options.upstream,
        lastValue: options.subjectClasses.lastValue,
        name: `tickfan-${serverId}`,
        history: router.jetstream?.streamList.map((s) => s.config) ?? [],
        historyReplicas: options.historyReplicas
      })
    } catch (err) {
      throw new Error(`upstream: cannot connect to any of ${options.upstream.join(', ')}: ${(err as Error).message}`)
    }
  }
  const tcp = net.createServer((socket) => attachTcp(socket, accept, secureContext))
  port = deps.worker?.ports.port ?? await listenTcp(tcp, options.port, options.host)

  let wsApp: FastifyInstance | null = null
  if (options.wsPort >= 0) {
    wsApp = options.tls === null
      ? Fastify({ logger: false })
      : Fastify({
        logger: false,
        https: { cert: options.tls.cert, key: options.tls.key, handshakeTimeout: options.connectTimeoutMs }
      }) as unknown as FastifyInstance
    // A WebSocket client gets as long to upgrade (its TLS handshake included) as a TCP client
    // gets to CONNECT, and counts against the connection limit from its TCP connection until it
    // upgrades: see HandshakeDeadline.
    const deadline = new HandshakeDeadline(wsApp.server, options.tls !== null, options.connectTimeoutMs, {
      admit: (socket) => {
        if (router.takePendingPlace()) return true
        refusals.note('maxConnections', socket.remoteAddress ?? '')
        return false
      },
      release: () => { router.releasePendingPlace() }
    })
    await wsApp.register(fastifyWebsocket, {
      options: {
        // A WebSocket message is bytes of the NATS stream, cut where the client flushed: it may
        // hold many commands, or part of one (nats-server reads frames as a stream).
        maxPayload: wsMessageLimitBytes(options),
        // NATS is bytes: a text frame is read as any other, as nats-server does (ws would close it
        // with 1007 on bytes that are not UTF-8).
        skipUTF8Validation: true,
        perMessageDeflate: false, // compresses once per socket: wrong for fan-out (see STYLE.md)
        autoPong: false, // attachWebSocket answers pings, and says why when their pongs pile up
        // A page whose origin is not allowed is refused before the upgrade (ws-origin.ts).
        verifyClient: (
          info: { origin?: string, req: http.IncomingMessage },
          done: (ok: boolean, code?: number, message?: string) => void
        ) => {
          const refusal = originRefusal(info.origin, options.wsAllowedOrigins)
          if (refusal === null) return done(true)
          originRefusals.note('origin', `${refusal} (from ${info.req.socket.remoteAddress ?? ''})`)
          done(false, 403, 'Origin Not Allowed')
        }
      }
    })
    wsApp.get('/*', { websocket: true }, (socket, req) => {
      deadline.met(req.raw.socket)
      attachWebSocket(socket, req.raw.socket as net.Socket, accept)
    })
    if (deps.worker === undefined) {
      await wsApp.listen({ port: options.wsPort, host: options.host })
      wsPort = (wsApp.server.address() as AddressInfo).port
    } else {
      await wsApp.ready()
      wsPort = deps.worker.ports.wsPort
    }
  }

  let monitor: FastifyInstance | null = null
  let httpPort = -1
  const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 })
  eventLoopDelay.enable()
  if (options.httpPort >= 0) {
    monitor = await createMonitor({
      router,
      serverId,
      host: options.host,
      port: () => port,
      wsPort: () => wsPort,
      eventLoopDelay,
      auth: options.monitoringAuth,
      upstream: () => upstream?.stats ?? null,
      maxConnections: deps.worker === undefined ? MONITOR_MAX_CONNECTIONS : undefined,
      connzUncapped: deps.worker !== undefined,
      allowedHosts: options.httpAllowedHosts
    })
    await monitor.listen(deps.worker === undefined ? { port: options.httpPort, host: options.host } : { port: 0, host: '127.0.0.1', exclusive: true })
    httpPort = (monitor.server.address() as AddressInfo).port
  }

  const sweep = setInterval(() => {
    try {
      router.sweep()
    } catch (err) {
      logger.error({ err }, 'sweep failed')
    }
  }, deps.sweepIntervalMs ?? 100)
  sweep.unref()

  const host = displayHost(options.host)
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweep)
      router.pacing.stop()
      eventLoopDelay.disable()
      const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()))
      await upstream?.close()
      router.closeAll()
      await Promise.all([tcpClosed, wsApp?.close(), monitor?.close(), router.authenticator.close()])
      logger.info('broker stopped')
    })()
    return closing
  }

  let lameDuck: Promise<void> | null = null
  const enterLameDuck = (): Promise<void> => {
    lameDuck ??= (async () => {
      inLameDuck = true
      tcp.close()
      const clients = [...router.clients.values()]
      // Closed in random order, so no client is always the last to be moved.
      for (let i = clients.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[clients[i], clients[j]] = [clients[j] as Client, clients[i] as Client]
      }
      // As nats-server: only a client that said it takes INFO updates (CONNECT's protocol 1) is told.
      for (const client of clients) {
        if (client.options.protocol >= 1) client.control(Buffer.from(infoFor(client.cid, client.transport, true)))
      }
      const times = { durationMs: options.lameDuckDurationMs, gracePeriodMs: options.lameDuckGracePeriodMs }
      logger.info({ clients: clients.length, ...times }, 'entering lame-duck mode')
      const at = closeSchedule(clients.length, times)
      const started = Date.now()
      for (let i = 0; i < clients.length && closing === null; i++) {
        const wait = started + (at[i] as number) - Date.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        clients[i]?.closeWith(null, 'server shutdown')
      }
      await close()
    })()
    return lameDuck
  }

  logger.info({ port, wsPort, httpPort }, 'broker listening')
  return {
    router,
    options,
    serverId,
    port,
    wsPort,
    httpPort,
    natsUrl: `nats://${host}:${port}`,
    wsUrl: wsPort < 0 ? null : `${options.tls === null ? 'ws' : 'wss'}://${host}:${wsPort}`,
    httpUrl: httpPort < 0 ? null : `http://${deps.worker === undefined ? host : '127.0.0.1'}:${httpPort}`,
    close,
    lameDuck: enterLameDuck,
    take (door, socket, full = false) {
      const server = door === 'nats' ? tcp : wsApp?.server
      if (server === undefined) { socket.destroy(); return }
      router.fullElsewhere = full // read as the connection is admitted, in this same call
      try {
        server.emit('connection', socket)
      } finally {
        router.fullElsewhere = false
      }
    }
  }
}
