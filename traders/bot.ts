/**
 * A measuring trader bot on the official NATS client: subscribes to its subjects, decodes each
 * canonical tick (a message it cannot decode is counted and logged once per interval), and
 * records latency, staleness, skipped updates, gaps and order (measurements.ts).
 *
 * Trades do not heal as last values do: the bot notes each in a TradeLedger, and when it
 * reconnects, or sees a hole in a venue's trade ids, it asks the broker's trade history for
 * what it missed (history-fill.ts) and counts what was filled and what is still missing.
 *
 * A slow bot takes time per message and/or stalls periodically, reading nothing meanwhile, to
 * exercise the broker's conflation (blocking-work.ts: the thread blocks, so the socket is not
 * read, without burning CPU). That blocks the whole process, so slow bots run in a process of
 * their own (traders/main.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { NatsCredentials } from '../lib/client-credentials.ts'
import { failureReason, guardedCallback } from '../lib/guarded-callback.ts'
import { conflatedCount } from '../lib/conflated-count.ts'
import { CONFLATED_HEADER } from '../lib/headers.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
import { nowEpochMs, nowMonoUs, parseMarketData } from '../feeds/tick.ts'
import { blockingSleep, spendBlocked } from '../lib/blocking-work.ts'
import { isSubsetMatch } from '../broker/subjects.ts'
import { BotMeasurements } from './measurements.ts'
import { fillFromHistory } from './history-fill.ts'
import { TradeLedger } from './trade-ledger.ts'

export interface SlowBehaviour {
  /** Time spent per message, microseconds (slept, not burnt). */
  costUs: number
  /** Stall (read nothing) for stallMs every stallEveryMs; 0 = never. */
  stallEveryMs: number
  stallMs: number
}

export interface BotOptions {
  name: string
  natsUrl: string
  credentials?: NatsCredentials
  subjects: readonly string[]
  slow?: SlowBehaviour | null
  /** Sample staleness this often (ms). Default 100. */
  stalenessSampleMs?: number
  /** Fill missed trades from the broker's history (stream `trades`). Default true. */
  historyFill?: boolean
  log?: (msg: string) => void
}

export interface RunningBot {
  readonly name: string
  readonly nc: NatsConnection
  readonly measurements: BotMeasurements
  readonly trades: TradeLedger
  /** History fills run, and those that failed (the last failure's reason). */
  readonly fills: { runs: number, failed: number, lastError: string | null }
  /** Resolves when no fill is running or waiting. */
  fillsSettled (): Promise<void>
  close (): Promise<void>
}

export async function startBot (options: BotOptions): Promise<RunningBot> {
  const nc = await connect({
    servers: options.natsUrl,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...options.credentials
  })
  const m = new BotMeasurements(options.name)
  const log = options.log ?? ((msg: string) => process.stderr.write(`${msg}\n`))
  const decodeLog = new ThrottledLog((key, detail, suppressed) => log(
    `${options.name}: ${key === 'conflated' ? 'ignored a header' : 'cannot decode a message'} (${detail}); ${suppressed} more since the last report`
  ))
  const slow = options.slow ?? null
  const trades = new TradeLedger()
  const filler = historyFiller(nc, trades, options)
  for (const subject of options.subjects) {
    nc.subscribe(subject, {
      callback: guardedCallback((msg) => {
        const received = nowMonoUs()
        // First: a header block nats.js cannot read throws here, before the message counts anywhere.
        const skippedHeader = msg.headers?.get(CONFLATED_HEADER)
        const decoded = parseMarketData(msg.data)
        if (!decoded.ok) {
          m.decodeError()
          decodeLog.note('decode', `${msg.subject}: ${decoded.reason}`)
          return
        }
        const tick = decoded.tick
        if (tick.type === 'trade') {
          const missing = trades.missing
          const lastLiveAtMs = trades.lastLiveAtMs
          trades.note(tick, 'live', nowEpochMs())
          if (trades.missing > missing) filler.request(lastLiveAtMs)
        }
        let skipped = conflatedCount(skippedHeader)
        if (skipped === null) {
          // Not the broker's count (a server that relays any header): the tick counts, the header does not.
          decodeLog.note('conflated', `${msg.subject}: ${CONFLATED_HEADER} is not a count: ${JSON.stringify(skippedHeader?.slice(0, 40))}`)
          skipped = 0
        }
        m.record(msg.subject, decoded.tick, received, skipped)
        if (slow !== null) spendBlocked(slow.costUs)
      }, (msg, err) => {
        m.decodeError()
        decodeLog.note('decode', `${msg.subject}: ${failureReason(err)}`)
      })
    })
  }
  await nc.flush()
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') filler.request(trades.lastLiveAtMs)
  })()
  const sampler = setInterval(() => m.sampleStaleness(nowEpochMs()), options.stalenessSampleMs ?? 100)
  const staller = slow !== null && slow.stallEveryMs > 0 ? setInterval(
    () => blockingSleep(slow.stallMs * 1000),
    slow.stallEveryMs
  ) : null
  return {
    name: options.name,
    nc,
    measurements: m,
    trades,
    fills: filler.stats,
    fillsSettled: filler.settled,
    async close () {
      clearInterval(sampler)
      if (staller !== null) clearInterval(staller)
      await nc.close()
    }
  }
}

/** The trade filters a bot's subjects cover: `trade.>` itself, or the trade subjects within it. */
export function tradeFilters (subjects: readonly string[]): string[] {
  const filters = new Set<string>()
  for (const s of subjects) {
    if (isSubsetMatch(s, 'trade.>')) filters.add(s)
    else if (isSubsetMatch('trade.>', s)) filters.add('trade.>')
  }
  return [...filters]
}

/**
 * One fill at a time, from a little before the last trade that arrived live before the loss
 * (`lastLiveAtMs`; the broker stamps its history as trades arrive); a request while one runs
 * makes one more run after it, from the earliest point asked for.
 */
function historyFiller (nc: NatsConnection, trades: TradeLedger, options: BotOptions): {
  request: (lastLiveAtMs: number) => void
  settled: () => Promise<void>
  stats: { runs: number, failed: number, lastError: string | null }
} {
  const filters = options.historyFill === false ? [] : tradeFilters(options.subjects)
  const stats = { runs: 0, failed: 0, lastError: null as string | null }
  let running: Promise<void> | null = null
  let again = false
  let sinceMs = Infinity
  const run = async (): Promise<void> => {
    do {
      again = false
      const from = sinceMs
      sinceMs = Infinity
      // Holes that remain may still be on their way into the history (a feed handler republishing
      // after the broker restarted), or the history may not answer yet (a cluster electing a
      // leader): look twice more, a second apart.
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000))
        stats.runs++
        try {
          for (const filter of filters) await fillFromHistory(nc, trades, { filter, sinceMs: from })
        } catch (err) {
          stats.failed++
          stats.lastError = (err as Error).message
          continue
        }
        if (trades.missing === 0 || nc.isClosed()) break
      }
    } while (again)
    running = null
  }
  return {
    stats,
    request (lastLiveAtMs) {
      if (filters.length === 0 || nc.isClosed()) return
      sinceMs = Math.min(sinceMs, Math.max(0, lastLiveAtMs - 2000))
      if (running !== null) { again = true; return }
      running = run()
    },
    settled: async () => { while (running !== null) await running }
  }
}
