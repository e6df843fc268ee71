/**
 * `npm run dashboard -- [options]`: the dashboard alone, against any broker with NATS over
 * WebSocket (tickfan, or nats-server with a websocket block).
 */
import { allowedHostsProblem } from '../lib/allowed-hosts.ts'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { startDashboard } from './server.ts'

const CLI = {
  port: { type: 'integer', default: 3000, min: 0, max: 65535, help: 'HTTP port of the dashboard' },
  host: { type: 'string', default: '127.0.0.1', help: 'Interface to listen on' },
  ws: { type: 'string', default: 'ws://127.0.0.1:8080', help: 'The broker\'s NATS-over-WebSocket URL (as the browser reaches it)' },
  varz: { type: 'string', default: 'http://127.0.0.1:8222/varz', help: 'The broker\'s /varz for the health panel (empty = none)' },
  allowedHosts: {
    type: 'list', default: [],
    help: 'Host names the dashboard answers besides IP addresses and localhost (a guard against DNS rebinding): ' +
      '* (any), names such as dash.example.com, or .example.com for a domain and every name under it'
  }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run dashboard --', 'tickfan dashboard: the live market in the browser over NATS-over-WebSocket.', CLI)); return }
  const hosts = allowedHostsProblem(o.allowedHosts)
  if (hosts !== null) throw new UsageError(`--allowed-hosts: ${hosts}`)
  const d = await startDashboard({ host: o.host, port: o.port, wsUrl: o.ws, varzUrl: o.varz === '' ? null : o.varz, allowedHosts: o.allowedHosts })
  process.stdout.write(`tickfan dashboard: ${d.url} (broker WebSocket ${o.ws})\n`)
  const stop = (): void => { d.close().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
})
