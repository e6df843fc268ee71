/**
 * A measuring trader bot on the official NATS client: subscribes to its subjects, decodes each
 * canonical tick (a message it cannot decode is counted and logged once per interval), and
 * records latency, staleness, skipped updates, gaps and order (measurements.ts).
 *
 * A slow bot takes time per message and/or stalls periodically, reading nothing meanwhile, to
 * exercise the broker's conflation (blocking-work.ts: the thread blocks, so the socket is not
 * read, without burning CPU). That blocks the whole process, so slow bots run in a process of
 * their own (traders/main.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { NatsCredentials } from '../lib/client-credentials.ts'
import { CONFLATED_HEADER } from '../lib/headers.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
import { nowEpochMs, nowMonoUs, parseMarketData } from '../feeds/tick.ts'
import { blockingSleep, spendBlocked } from '../lib/blocking-work.ts'
import { BotMeasurements } from './measurements.ts'

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
  log?: (msg: string) => void
}

export interface RunningBot {
  readonly name: string
  readonly nc: NatsConnection
  readonly measurements: BotMeasurements
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
  const decodeLog = new ThrottledLog((_k, detail, suppressed) => log(`${options.name}: cannot decode a message (${detail}); ${suppressed} more since the last report`))
  const slow = options.slow ?? null
  for (const subject of options.subjects) {
    nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return
        const received = nowMonoUs()
        const decoded = parseMarketData(msg.data)
        if (!decoded.ok) {
          m.decodeError()
          decodeLog.note('decode', `${msg.subject}: ${decoded.reason}`)
          return
        }
        const skippedHeader = msg.headers?.get(CONFLATED_HEADER)
        m.record(msg.subject, decoded.tick, received, skippedHeader === undefined || skippedHeader === '' ? 0 : Number(skippedHeader))
        if (slow !== null) spendBlocked(slow.costUs)
      }
    })
  }
  await nc.flush()
  const sampler = setInterval(() => m.sampleStaleness(nowEpochMs()), options.stalenessSampleMs ?? 100)
  const staller = slow !== null && slow.stallEveryMs > 0 ? setInterval(
    () => blockingSleep(slow.stallMs * 1000),
    slow.stallEveryMs
  ) : null
  return {
    name: options.name,
    nc,
    measurements: m,
    async close () {
      clearInterval(sampler)
      if (staller !== null) clearInterval(staller)
      await nc.close()
    }
  }
}
