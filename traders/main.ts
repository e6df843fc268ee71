/**
 * `npm run traders -- [options]`: many measuring bots per process. Fast bots run here; slow bots
 * (a processing cost per message and periodic stalls) run in a child process of their own so
 * their stalls cannot delay the fast ones. A requester asks the reference-price service
 * (request/reply, load balanced over its queue group). Each group publishes its statistics on
 * `stats.traders.<group>` every second; a final report is printed on exit.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { NATS_CREDENTIALS_CLI, natsCredentials } from '../lib/client-credentials.ts'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { formatUs } from '../lib/histogram.ts'
import { startBot, type RunningBot } from './bot.ts'
import { STATS_SUBJECT_PREFIX, mergeReports, watchGroupStats, type GroupStats } from './stats.ts'
import { startRequester } from './requester.ts'

export const TRADERS_CLI = {
  bots: { type: 'integer', default: 20, min: 0, help: 'Bots in all (fast and slow), each its own NATS connection' },
  slow: { type: 'string', default: '10%', help: 'How many bots are slow: a percentage (10%), a fraction (0.1) or a count (3)' },
  subjects: { type: 'list', default: ['quote.>', 'trade.>', 'bbo.>'], help: 'Subjects every bot subscribes to (wildcards allowed)' },
  slowCostUs: { type: 'integer', default: 2000, min: 0, help: 'Time a slow bot takes per message (us; it sleeps, blocking its reads, without using CPU)' },
  slowStallEveryMs: { type: 'integer', default: 5000, min: 0, help: 'A slow bot stalls this often (ms, 0 = never)' },
  slowStallMs: { type: 'integer', default: 1000, min: 0, help: 'How long a slow bot stalls (ms)' },
  requestsPerSec: { type: 'number', default: 5, min: 0, help: 'Reference-price requests per second (request/reply to the price-service queue group)' },
  requestSymbols: { type: 'list', default: ['BTC-USD', 'ETH-USD', 'SOL-USD'], help: 'Symbols the requester asks prices for' },
  nats: { type: 'string', default: 'nats://127.0.0.1:4222', help: 'NATS server (the tickfan broker or any nats-server)' },
  ...NATS_CREDENTIALS_CLI,
  historyFill: { type: 'boolean', default: true, help: 'Fill missed trades from the broker\'s trade history after a reconnect or a hole in a venue\'s trade ids (--no-history-fill: count them lost)' },
  statsMs: { type: 'integer', default: 1000, min: 100, help: 'Interval of statistics on stats.traders.<group> (ms)' },
  quiet: { type: 'boolean', default: false, help: 'No status line (for npm start)' },
  group: { type: 'string', default: 'fast', choices: ['fast', 'slow'], help: 'Internal: which group this process runs' }
} satisfies OptionTable

export function slowCount (spec: string, bots: number): number {
  const text = spec.trim()
  const n = Number(text.endsWith('%') ? text.slice(0, -1) : text)
  if (text === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--slow must be a percentage, a fraction or a count, got ${JSON.stringify(spec)}`)
  const count = text.endsWith('%') ? Math.round(bots * n / 100) : n < 1 ? Math.round(bots * n) : Math.round(n)
  if (count > bots) throw new UsageError(`--slow asks for ${count} slow bots but --bots is ${bots}`)
  return count
}

/** One group's figures; `seconds` is the span `s` covers, so received becomes a rate. */
function line (s: GroupStats, seconds: number): string {
  return `${s.group} ${s.bots} bots ${Math.round(s.received / seconds).toLocaleString('en-US')} msg/s p50 ${formatUs(s.latencyUs.p50)} p99 ${formatUs(s.latencyUs.p99)} staleness p99 ${s.stalenessMs.p99} ms skipped ${s.skipped} order violations ${s.orderViolations}`
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), TRADERS_CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run traders --', 'tickfan trader bots: measure latency, staleness, skipped updates, gaps and order of what they receive.', TRADERS_CLI))
    return
  }
  const startedAt = Date.now()
  const slow = o.group === 'slow'
  const credentials = natsCredentials(o)
  const slowBots = slow ? o.bots : slowCount(o.slow, o.bots)
  const myBots = slow ? o.bots : o.bots - slowBots
  const log = (m: string): void => { process.stderr.write(`${m}\n`) }
  const bots: RunningBot[] = []
  for (let i = 0; i < myBots; i++) {
    bots.push(await startBot({
      name: `${o.group}-bot-${i + 1}`,
      natsUrl: o.nats,
      credentials,
      subjects: o.subjects,
      slow: slow ? { costUs: o.slowCostUs, stallEveryMs: o.slowStallEveryMs, stallMs: o.slowStallMs } : null,
      historyFill: o.historyFill,
      log
    }))
  }
  const statsConn = await connect({ servers: o.nats, name: `tickfan-traders-${o.group}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...credentials })
  const requester = slow ? null : startRequester(
    statsConn,
    { symbols: o.requestSymbols, perSec: o.requestsPerSec, log }
  )
  let child: ReturnType<typeof fork> | null = null
  if (!slow && slowBots > 0) {
    const args = process.argv.slice(2).filter((a) => !a.startsWith('--group'))
    child = fork(fileURLToPath(import.meta.url), [...args, '--group', 'slow', '--bots', String(slowBots), '--quiet'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  }
  const latest = o.quiet ? null : watchGroupStats(statsConn, log).groups
  const publishStats = setInterval(() => {
    const s = mergeReports(o.group, bots.map((b) => b.measurements.takeInterval()))
    statsConn.publish(`${STATS_SUBJECT_PREFIX}.${o.group}`, JSON.stringify(s))
    if (!o.quiet) {
      const parts = [...(latest?.values() ?? [])].map((s) => line(s, o.statsMs / 1000))
      const req = requester === null ? '' : ` | price requests answered ${requester.stats.answered}`
      process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${parts.join(' | ')}${req}\n`)
    }
  }, o.statsMs)
  if (!o.quiet) process.stdout.write(`tickfan traders: ${myBots} fast bots here, ${slowBots} slow bots in a child process, on ${o.nats}\n`)

  const stop = (signal: string): void => {
    clearInterval(publishStats)
    requester?.stop()
    child?.kill('SIGTERM')
    const total = mergeReports(o.group, bots.map((b) => b.measurements.report()))
    const seconds = (Date.now() - startedAt) / 1000
    const trades = bots.map((b) => b.trades.report())
    const sum = (k: 'live' | 'filled' | 'duplicates' | 'missing'): number => trades.reduce((n, t) => n + t[k], 0)
    const fillsFailed = bots.reduce((n, b) => n + b.fills.failed, 0)
    const lastError = bots.find((b) => b.fills.lastError !== null)?.fills.lastError
    process.stdout.write(`\n${signal}: ${o.group} bots final report over ${seconds.toFixed(0)} s: ${total.received.toLocaleString('en-US')} received, ${line(total, seconds)} decode errors ${total.decodeErrors} venue-seq gaps ${total.venueSeqGaps}` +
      `${requester === null ? '' : ` | requests ${JSON.stringify(requester.stats)}`}\n` +
      `trades: ${sum('live').toLocaleString('en-US')} live, ${sum('filled').toLocaleString('en-US')} filled from the history, ` +
      `${sum('missing').toLocaleString('en-US')} still missing, ${sum('duplicates')} live duplicates` +
      `${fillsFailed === 0 ? '' : `; ${fillsFailed} fills failed (last: ${String(lastError)})`}\n`)
    Promise.all([...bots.map((b) => b.close()), statsConn.close()]).then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
})
