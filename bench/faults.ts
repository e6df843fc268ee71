/**
 * `npm run bench:faults`: what a broker crash costs, measured. Feeds publish at a steady rate
 * to a broker process; a subscriber records every trade and the newest quote per subject. The
 * broker is killed (SIGKILL) mid-stream and restarted on the same port after `--outage-ms`.
 * Reported: trades the feed handlers handed to the NATS client versus trades the subscriber
 * received (lost ones are the price of core NATS's at-most-once delivery), duplicates, and how
 * long until every quote subject moved on and a new subscriber's snapshot was whole again.
 */
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, type OptionTable } from '../broker/cli-options.ts'
import { freePorts, waitForPort } from '../broker/test-support/nats-server.ts'
import { runCommand, type CommandProcess } from '../broker/test-support/processes.ts'
import { startFeeds } from '../feeds/feeds.ts'
import { findInstruments } from '../feeds/instruments.ts'
import { parseTick } from '../feeds/tick.ts'

const CLI = {
  rate: { type: 'integer', default: 1000, min: 10, help: 'Venue messages per second per venue (three venues)' },
  tradeRatio: { type: 'number', default: 0.2, min: 0.01, max: 1, help: 'Fraction of venue messages that are trades' },
  outageMs: { type: 'integer', default: 1000, min: 0, help: 'How long the broker stays down' },
  runs: { type: 'integer', default: 3, min: 1, help: 'Crashes to measure' },
  workers: { type: 'integer', default: 1, min: 1, help: 'Broker workers (the whole broker is killed)' }
} satisfies OptionTable

const INSTRUMENTS = findInstruments(['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'])

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function waitUntil (check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await delay(20)
  }
  return false
}

interface CrashResult { published: number, received: number, lost: number, duplicates: number, freshMs: number, snapshotMs: number }

async function crashOnce (o: { rate: number, tradeRatio: number, outageMs: number, workers: number }): Promise<CrashResult> {
  const [port, httpPort] = await freePorts(2)
  const natsUrl = `nats://127.0.0.1:${port}`
  const startBroker = (): CommandProcess => runCommand('broker/main.ts', ['--workers', String(o.workers), '--host', '127.0.0.1', '--port', String(port), `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'error'])
  let broker = startBroker()
  await waitForPort(port, 20_000)
  const feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], instruments: INSTRUMENTS, ratePerSec: o.rate, tradeRatio: o.tradeRatio, bursty: false, seed: 5, natsUrl })
  const sub = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 50 })
  const trades = new Map<string, number>()
  const quoteSeq = new Map<string, number>()
  sub.subscribe('trade.>', { callback: (_e, m) => { const r = parseTick(m.data); if (r.ok && r.tick.type === 'trade') trades.set(`${r.tick.venue} ${r.tick.symbol} ${r.tick.tradeId}`, (trades.get(`${r.tick.venue} ${r.tick.symbol} ${r.tick.tradeId}`) ?? 0) + 1) } })
  sub.subscribe('quote.>', { callback: (_e, m) => { const r = parseTick(m.data); if (r.ok) quoteSeq.set(m.subject, r.tick.seq) } })
  await sub.flush()
  const subjects = feeds.handlers.flatMap((h) => INSTRUMENTS.map((i) => `quote.${h.venue}.${i.symbol}`))
  await waitUntil(() => subjects.every((s) => quoteSeq.has(s)), 20_000)
  await delay(2000)

  await broker.stop('SIGKILL')
  const before = new Map(quoteSeq)
  await delay(o.outageMs)
  broker = startBroker()
  await waitForPort(port, 20_000)
  const restarted = Date.now()
  await waitUntil(() => subjects.every((s) => (quoteSeq.get(s) ?? 0) > (before.get(s) ?? 0)), 30_000)
  const freshMs = Date.now() - restarted
  await waitUntil(async () => {
    const probe = await connect({ servers: natsUrl })
    const seen = new Set<string>()
    probe.subscribe('quote.>', { callback: (_e, m) => { seen.add(m.subject) } })
    await probe.flush()
    await delay(50)
    await probe.close()
    return subjects.every((s) => seen.has(s))
  }, 30_000)
  const snapshotMs = Date.now() - restarted
  await delay(2000)

  for (const h of feeds.handlers) await h.stop() // no more trades; what was handed to the client drains
  await feeds.nc.flush().catch(() => {})
  await delay(500)
  const published = feeds.handlers.reduce((n, h) => n + h.stats.trades, 0)
  const received = trades.size
  const duplicates = [...trades.values()].reduce((n, c) => n + c - 1, 0)
  await sub.close()
  await feeds.close()
  await broker.stop('SIGINT')
  return { published, received, lost: published - received, duplicates, freshMs, snapshotMs }
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:faults --', 'What a broker crash costs: trades lost, and time until the state is whole again.', CLI)); return }
  process.stdout.write(`Broker crash (SIGKILL, down ${o.outageMs} ms, restarted on the same port), 3 venues x ${o.rate} msgs/s, ${Math.round(o.tradeRatio * 100)}% trades\n`)
  process.stdout.write('  run  trades published  received  lost  duplicates  every quote fresh  whole snapshot\n')
  for (let run = 1; run <= o.runs; run++) {
    const r = await crashOnce(o)
    process.stdout.write(`  ${String(run).padStart(3)}  ${String(r.published).padStart(16)}  ${String(r.received).padStart(8)}  ${String(r.lost).padStart(4)}  ${String(r.duplicates).padStart(10)}  ${`${r.freshMs} ms`.padStart(17)}  ${`${r.snapshotMs} ms`.padStart(14)}\n`)
  }
})
