/**
 * The price requester: asks the reference-price service (request/reply, load balanced over its
 * queue group) at a fixed rate, round-robin over symbols, and counts what came back: answers
 * per group member, timeouts, and no-responders (a 503 from the server: nobody subscribes).
 * Failures are reported clearly but at most once per `reportEveryMs` per kind, with how many
 * happened since the last report, so a missing service cannot flood the log.
 */
import { errors, type NatsConnection } from '@nats-io/transport-node'
import { parseMessage } from '../lib/json-message.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'
import type { PriceReply } from './services.ts'

export interface RequesterStats {
  answered: number
  timeouts: number
  noResponders: number
  /** Replies that were not a price reply (not JSON, no member name): counted, reported, otherwise left. */
  badReplies: number
  /**
   * member name -> answers it gave; at most MAX_MEMBERS_NAMED names (a responder names itself),
   * the answers of any more under OTHER_MEMBERS.
   */
  byMember: Record<string, number>
}

export const MAX_MEMBERS_NAMED = 64
export const OTHER_MEMBERS = '(other members)'
/** What the requester reads of a reply. */
const REPLY_FIELDS = { member: 'string' } as const

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
  const byMember = Object.create(null) as Record<string, number> // no prototype: a member may name itself anything
  const stats: RequesterStats = { answered: 0, timeouts: 0, noResponders: 0, badReplies: 0, byMember }
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
      // Whoever subscribes to price.* may answer: a reply is checked before it is counted. (A throw
      // here was an unhandled rejection, and the traders' process exited.)
      const reply = parseMessage<PriceReply>(msg.data, REPLY_FIELDS)
      if (!reply.ok) {
        stats.badReplies++
        failures.note('bad', `price.${symbol} was answered with something that is not a price reply (${reply.reason})`)
        return
      }
      stats.answered++
      const named = reply.value.member
      const member = named in byMember || Object.keys(byMember).length < MAX_MEMBERS_NAMED ? named : OTHER_MEMBERS
      byMember[member] = (byMember[member] ?? 0) + 1
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
