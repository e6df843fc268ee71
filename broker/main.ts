/**
 * `npm run broker -- [options]`: the broker alone. Every option has a documented default
 * (`--help`). SIGINT/SIGTERM flush what is pending and close cleanly.
 */
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { loadAuthFile } from './auth-file.ts'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { BROKER_OPTION_TABLE, defaultWorkers, resolveOptions } from './options.ts'
import { allowedHostsProblem } from '../lib/allowed-hosts.ts'
import { allowedOriginsProblem } from './ws-origin.ts'
import { DEFAULT_SUBJECT_CLASSES } from './subject-classes.ts'
import { runClusterWorker, startClusterPrimary } from './cluster.ts'
import { startBroker } from './server.ts'
import { cpuQuotaCores } from './cpu-quota.ts'
import { quotaFlags } from './process-settings.ts'

/** The broker's options (options.ts), and those of the command line alone. */
export const BROKER_CLI = {
  workers: { type: 'integer', default: defaultWorkers(), min: 1, max: 256, help: `Broker worker processes behind the same ports (default: half the ${os.availableParallelism()} cores, at least one)` },
  ...BROKER_OPTION_TABLE,
  lastValue: { type: 'list', default: DEFAULT_SUBJECT_CLASSES.lastValue, help: 'Subject patterns that are last-value (cached, conflated)' },
  event: { type: 'list', default: DEFAULT_SUBJECT_CLASSES.event, help: 'Subject patterns that are events (never conflated)' },
  auth: { type: 'string', default: '', help: 'JSON file with users, passwords (bcrypt: npm run passwd), permissions, no_auth_user and monitoring credentials' },
  tlsCert: { type: 'string', default: '', help: 'PEM certificate file: TLS on the NATS port and wss on the WebSocket port' },
  tlsKey: { type: 'string', default: '', help: 'PEM private key file for --tls-cert' },
  signal: {
    type: 'string', default: '',
    help: 'Signal a running broker and exit, as nats-server does: ldm=<pid> (lame-duck mode), term=<pid> (stop), quit=<pid> (stop)'
  }
} satisfies OptionTable

const SIGNALS = { ldm: 'SIGUSR2', term: 'SIGTERM', quit: 'SIGINT' } as const

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), BROKER_CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run broker --', 'tickfan broker: NATS protocol over TCP and WebSocket, with a last-value cache, per-subscriber conflation and fair fan-out.', BROKER_CLI))
    return
  }
  if (o.signal !== '') {
    const m = /^(ldm|term|quit)=(\d+)$/.exec(o.signal)
    if (m === null) throw new UsageError(`--signal takes ldm=<pid>, term=<pid> or quit=<pid>, got ${JSON.stringify(o.signal)}`)
    const signal = SIGNALS[m[1] as keyof typeof SIGNALS]
    try {
      process.kill(Number(m[2]), signal)
    } catch (err) {
      throw new UsageError(`--signal: cannot signal process ${m[2]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    process.stdout.write(`sent ${signal} to ${m[2]}\n`)
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
  const origins = allowedOriginsProblem(o.wsAllowedOrigins)
  if (origins !== null) throw new UsageError(`--ws-allowed-origins: ${origins}`)
  const hosts = allowedHostsProblem(o.httpAllowedHosts)
  if (hosts !== null) throw new UsageError(`--http-allowed-hosts: ${hosts}`)
  const brokerOptions = Object.fromEntries(Object.keys(BROKER_OPTION_TABLE).map((key) => [
    key,
    o[key as keyof typeof o]
  ]))
  const options = resolveOptions({
    ...brokerOptions,
    subjectClasses: { lastValue: o.lastValue, event: o.event },
    authorization: auth.authorization,
    monitoringAuth: auth.monitoringAuth,
    tls
  })
  const stopOn = (running: { close: () => Promise<void>, lameDuck: () => Promise<void> }, say: boolean): void => {
    const stop = (signal: string, how: () => Promise<void>, what: string): void => {
      if (say) process.stdout.write(`\n${signal}: ${what}...\n`)
      how().then(() => process.exit(0), () => process.exit(1))
    }
    process.once('SIGINT', () => stop('SIGINT', running.close, 'draining and closing'))
    process.once('SIGTERM', () => stop('SIGTERM', running.close, 'draining and closing'))
    process.once('SIGUSR2', () => stop('SIGUSR2', running.lameDuck,
      `lame-duck mode: no new connections, clients closed over ${options.lameDuckDurationMs / 1000} s`))
  }
  if (o.workers > 1 && cluster.isWorker) {
    stopOn(await runClusterWorker(options), false)
    return
  }
  const shown = (host: string): string => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)
  if (o.workers > 1) {
    const running = await startClusterPrimary(options, o.workers, (line) => process.stderr.write(`${line}\n`))
    const scheme = options.tls === null ? 'ws' : 'wss'
    process.stdout.write(`tickfan broker ready (${o.workers} workers)\n  NATS       nats://${shown(options.host)}:${running.port}\n  WebSocket  ${running.wsPort < 0 ? 'off' : `${scheme}://${shown(options.host)}:${running.wsPort}`}\n  Monitoring ${running.httpPort < 0 ? 'off' : `http://${shown(options.host)}:${running.httpPort}`}\n`)
    stopOn(running, true)
    return
  }
  const quota = cpuQuotaCores()
  const missing = quotaFlags(quota, 1).filter((flag) => !process.execArgv.includes(flag))
  if (missing.length > 0) {
    process.stderr.write(`warning: this process runs under a CPU quota of ${quota?.toFixed(2)} cores: start node with ${missing.join(' ')}, ` +
      'or collection pauses stretch to several times their CPU time (DEPLOYMENT.md)\n')
  }
  const broker = await startBroker(options)
  process.stdout.write(`tickfan broker ready\n  NATS       ${broker.natsUrl}\n  WebSocket  ${broker.wsUrl ?? 'off'}\n  Monitoring ${broker.httpUrl ?? 'off'}\n`)
  stopOn(broker, true)
})
