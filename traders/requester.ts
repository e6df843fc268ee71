/**
 * The price requester: asks the reference-price service (request/reply, load balanced over its
 * queue group) at a fixed rate, round-robin over symbols, and counts what came back: answers
 * per group member, timeouts, and no-responders (a 503 from the server: nobody subscribes).
 * Failures are reported clearly but at most once per `reportEveryMs` per kind, with how many
 * happened since the last report, so a missing service cannot flood the log.
 */
import { errors, type NatsConnection } from '@nats-io/transport-node'
import { ThrottledLog } from '../lib/throttled-log.ts'
import type { PriceReply } from './services.ts'

export interface RequesterStats {
  answered: number
  timeouts: number
  noResponders: number
  /** member name -> answers it gave */
  byMember: Record<string, number>
}

export interface RequesterOptions {
  symbols: readonly string[]
  perSec: number
  timeoutMs?: number
  reportEveryMs?: number
  log: (message: string) => void
}

export interface Requester {
  readonly stats: RequesterStats
  stop (): void
}

function isNoResponders (err: unknown): boolean {
  return err instanceof errors.NoRespondersError ||
    (err as { cause?: unknown } | null)?.cause instanceof errors.NoRespondersError
}

export function startRequester (nc: NatsConnection, o: RequesterOptions): Requester {
  const stats: RequesterStats = { answered: 0, timeouts: 0, noResponders: 0, byMember: {} }
  if (o.perSec <= 0 || o.symbols.length === 0) return { stats, stop () {} }
  const timeoutMs = o.timeoutMs ?? 1000
  // Each kind of failure at most once per reportEveryMs, saying how many happened since the
  // last line (this one included).
  const failures = new ThrottledLog((_kind, text, suppressed) => {
    o.log(`requester: ${text}${suppressed > 0 ? ` (${suppressed + 1} since the last report)` : ''}`)
  }, o.reportEveryMs ?? 1000)
  let k = 0
  let stopped = false
  const timer = setInterval(() => {
    const symbol = o.symbols[k++ % o.symbols.length] as string
    nc.request(`price.${symbol}`, '', { timeout: timeoutMs }).then((msg) => {
      const reply = JSON.parse(new TextDecoder().decode(msg.data)) as PriceReply
      stats.answered++
      stats.byMember[reply.member] = (stats.byMember[reply.member] ?? 0) + 1
    }, (err: unknown) => {
      if (stopped) return // a request still out while everything shuts down is no news
      if (isNoResponders(err)) {
        stats.noResponders++
        failures.note('noResponders', `no responders for price.${symbol}: is the price service running (npm run services)?`)
      } else {
        stats.timeouts++
        failures.note('timeout', `price.${symbol} timed out after ${timeoutMs} ms: the price service is subscribed but did not answer`)
      }
    })
  }, 1000 / o.perSec)
  return { stats, stop () { stopped = true; clearInterval(timer) } }
}
