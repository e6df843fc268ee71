/**
 * `npm run broker -- [options]`: the broker alone. Every option has a documented default
 * (`--help`). SIGINT/SIGTERM flush what is pending and close cleanly.
 */
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { loadAuthFile } from './auth-file.ts'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from './cli-options.ts'
import { DEFAULT_OPTIONS, defaultWorkers } from './options.ts'
import { runClusterWorker, startClusterPrimary } from './cluster.ts'
import { resolveOptions } from './options.ts'
import { startBroker } from './server.ts'

const d = DEFAULT_OPTIONS
export const BROKER_CLI = {
  host: { type: 'string', default: d.host, help: 'Interface to listen on' },
  workers: { type: 'integer', default: defaultWorkers(), min: 1, max: 256, help: `Broker worker processes behind the same ports (default: half the ${os.availableParallelism()} cores, at least one)` },
  port: { type: 'integer', default: d.port, min: 0, max: 65535, help: 'NATS TCP port (0 = any free port)' },
  wsPort: { type: 'integer', default: d.wsPort, min: -1, max: 65535, help: 'NATS-over-WebSocket port, any path (--ws-port=-1 = off)' },
  httpPort: { type: 'integer', default: d.httpPort, min: -1, max: 65535, help: 'HTTP monitoring port: /healthz /varz /connz /subsz /metrics /lvc (--http-port=-1 = off)' },
  name: { type: 'string', default: d.serverName, help: 'Server name in INFO and /varz' },
  maxPayload: { type: 'integer', default: d.maxPayloadBytes, min: 1, help: 'Largest message in bytes (max_payload)' },
  maxControlLine: { type: 'integer', default: d.maxControlLineBytes, min: 64, help: 'Longest protocol control line in bytes' },
  maxConnections: { type: 'integer', default: d.maxConnections, min: 1, help: 'Connections accepted at once' },
  maxSubscriptions: { type: 'integer', default: d.maxSubscriptionsPerConnection, min: 1, help: 'Subscriptions per connection' },
  highWaterBytes: { type: 'integer', default: d.highWaterBytes, min: 1, help: 'Socket-buffered bytes past which a connection is conflated' },
  maxInFlightBytes: { type: 'integer', default: d.maxInFlightBytes, min: 1024, help: 'Bytes written but not acknowledged by the client (PING/PONG) past which it is conflated' },
  maxAckWaitMs: { type: 'integer', default: d.maxAckWaitMs, min: 1, help: 'A flow-control PING unanswered this long (ms) conflates the client until it answers' },
  maxPendingEventBytes: { type: 'integer', default: d.maxPendingEventBytes, min: 1, help: 'Undelivered trade/plain bytes before a slow consumer is closed' },
  meshMaxQueuedBytes: { type: 'integer', default: d.meshMaxQueuedBytes, min: 1024, help: 'Bytes queued for another worker before it counts as behind (last values conflated, subscribers missing events closed)' },
  maxStaleMs: { type: 'integer', default: d.maxStaleMs, min: 1, help: 'Close a conflating connection whose oldest undelivered update is older (ms)' },
  maxBlockedMs: { type: 'integer', default: d.maxBlockedMs, min: 1, help: 'Close a connection whose socket stays blocked longer (ms)' },
  connectTimeoutMs: { type: 'integer', default: d.connectTimeoutMs, min: 1, help: 'Close a connection that sends no CONNECT within (ms)' },
  pingIntervalMs: { type: 'integer', default: d.pingIntervalMs, min: 1, help: 'Interval between server PINGs (ms)' },
  maxLastValueSubjects: { type: 'integer', default: d.maxLastValueSubjects, min: 1, help: 'Subjects kept in the last-value cache' },
  lastValue: { type: 'list', default: d.subjectClasses.lastValue, help: 'Subject patterns that are last-value (cached, conflated)' },
  event: { type: 'list', default: d.subjectClasses.event, help: 'Subject patterns that are events (never conflated)' },
  maxInMsgsPerSec: { type: 'integer', default: d.maxInMsgsPerSec, min: 0, help: 'Messages per second one connection may publish; excess is dropped with a -ERR (0 = unlimited)' },
  auth: { type: 'string', default: '', help: 'JSON file with users, passwords (bcrypt: npm run passwd), permissions, no_auth_user and monitoring credentials' },
  upstream: { type: 'list', default: [], help: 'Upstream NATS servers (one cluster) to link to, e.g. nats://a:4222,nats://b:4222: publishes go up, interest and last values come down' },
  tlsCert: { type: 'string', default: '', help: 'PEM certificate file: TLS on the NATS port and wss on the WebSocket port' },
  tlsKey: { type: 'string', default: '', help: 'PEM private key file for --tls-cert' },
  fairShuffle: { type: 'boolean', default: d.fairShuffle, help: 'Shuffle the order connections are served each flush turn (--no-fair-shuffle to measure without)' },
  logLevel: { type: 'string', default: d.logLevel, choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'Log level' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), BROKER_CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run broker --', 'tickfan broker: NATS protocol over TCP and WebSocket, with a last-value cache, per-subscriber conflation and fair fan-out.', BROKER_CLI))
    return
  }
  if ((o.tlsCert === '') !== (o.tlsKey === '')) throw new UsageError('--tls-cert and --tls-key go together')
  const readPem = (flag: string, path: string): string => {
    try { return readFileSync(path, 'utf8') } catch (err) { throw new UsageError(`${flag}: cannot read ${path}: ${(err as Error).message}`) }
  }
  const tls = o.tlsCert === '' ? null : { cert: readPem('--tls-cert', o.tlsCert), key: readPem('--tls-key', o.tlsKey) }
  let auth = { authorization: null, monitoringAuth: null } as ReturnType<typeof loadAuthFile>
  if (o.auth !== '') {
    try { auth = loadAuthFile(o.auth) } catch (err) { throw new UsageError(`--auth: ${(err as Error).message}`) }
  }
  const options = resolveOptions({
    host: o.host,
    port: o.port,
    wsPort: o.wsPort,
    httpPort: o.httpPort,
    serverName: o.name,
    maxPayloadBytes: o.maxPayload,
    maxControlLineBytes: o.maxControlLine,
    maxConnections: o.maxConnections,
    maxSubscriptionsPerConnection: o.maxSubscriptions,
    highWaterBytes: o.highWaterBytes,
    maxInFlightBytes: o.maxInFlightBytes,
    maxAckWaitMs: o.maxAckWaitMs,
    maxPendingEventBytes: o.maxPendingEventBytes,
    meshMaxQueuedBytes: o.meshMaxQueuedBytes,
    maxStaleMs: o.maxStaleMs,
    maxBlockedMs: o.maxBlockedMs,
    connectTimeoutMs: o.connectTimeoutMs,
    pingIntervalMs: o.pingIntervalMs,
    maxLastValueSubjects: o.maxLastValueSubjects,
    subjectClasses: { lastValue: o.lastValue, event: o.event },
    fairShuffle: o.fairShuffle,
    maxInMsgsPerSec: o.maxInMsgsPerSec,
    authorization: auth.authorization,
    monitoringAuth: auth.monitoringAuth,
    tls,
    upstream: o.upstream,
    logLevel: o.logLevel as string
  })
  const stopOn = (close: () => Promise<void>, say: boolean): void => {
    const stop = (signal: string): void => {
      if (say) process.stdout.write(`\n${signal}: draining and closing...\n`)
      close().then(() => process.exit(0), () => process.exit(1))
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  }
  if (o.workers > 1 && cluster.isWorker) {
    stopOn((await runClusterWorker(options)).close, false)
    return
  }
  const shown = (host: string): string => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)
  if (o.workers > 1) {
    const running = await startClusterPrimary(options, o.workers, (line) => process.stderr.write(`${line}\n`))
    const scheme = options.tls === null ? 'ws' : 'wss'
    process.stdout.write(`tickfan broker ready (${o.workers} workers)\n  NATS       nats://${shown(o.host)}:${running.port}\n  WebSocket  ${running.wsPort < 0 ? 'off' : `${scheme}://${shown(o.host)}:${running.wsPort}`}\n  Monitoring ${running.httpPort < 0 ? 'off' : `http://${shown(o.host)}:${running.httpPort}`}\n`)
    stopOn(running.close, true)
    return
  }
  const broker = await startBroker(options)
  process.stdout.write(`tickfan broker ready\n  NATS       ${broker.natsUrl}\n  WebSocket  ${broker.wsUrl ?? 'off'}\n  Monitoring ${broker.httpUrl ?? 'off'}\n`)
  stopOn(broker.close, true)
})
