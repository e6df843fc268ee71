/**
 * `npm run services -- [options]`: the consolidator (bbo.<SYM>), the arbitrage watcher
 * (signal.arbitrage.<SYM>), the reference-price queue group (price.<SYM>) and the monitor
 * (alerts.monitor).
 */
import { NATS_CREDENTIALS_CLI, natsCredentials } from '../lib/client-credentials.ts'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { startServices } from './services.ts'

const CLI = {
  nats: { type: 'string', default: 'nats://127.0.0.1:4222', help: 'NATS server' },
  ...NATS_CREDENTIALS_CLI,
  priceMembers: { type: 'integer', default: 3, min: 1, help: 'Members of the reference-price queue group' },
  silentMs: { type: 'integer', default: 3000, min: 100, help: 'A venue silent this long is reported by the monitor (ms)' },
  latencySpikeMs: { type: 'number', default: 50, min: 0, help: 'Delivery latency the monitor reports as a spike (ms)' },
  quiet: { type: 'boolean', default: false, help: 'No status line' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run services --', 'tickfan services: consolidated BBO, arbitrage watcher, reference-price queue group, monitor.', CLI)); return }
  const services = await startServices({
    natsUrl: o.nats,
    credentials: natsCredentials(o),
    priceMembers: o.priceMembers,
    silentMs: o.silentMs,
    latencySpikeUs: o.latencySpikeMs * 1000
  })
  if (!o.quiet) process.stdout.write(`tickfan services on ${o.nats}: consolidator, arbitrage watcher, ${o.priceMembers} price-service members, monitor\n`)
  const status = o.quiet
    ? null
    : setInterval(() => {
      const s = services.stats
      process.stdout.write(`${new Date().toISOString().slice(11, 19)}  bbo published ${s.bboPublished}  arbitrage signals ${s.arbitrageSignals}  price requests ${JSON.stringify(s.priceRequests)}  anomalies ${s.anomalies.length}\n`)
    }, 1000)
  const stop = (): void => {
    if (status !== null) clearInterval(status)
    services.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
})
