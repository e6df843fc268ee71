/**
 * Publishes canonical ticks with the official NATS client, to the tickfan broker or to any NATS
 * server. Each tick carries its `seq` in the `Tickfan-Seq` header so the broker's last-value
 * cache can drop older values; the payload is the tick as JSON.
 *
 * A trade also carries `Nats-Msg-Id: <venue>.<symbol>.<venue trade id>`, and the publisher
 * keeps the trades of the last `recentTradesMs`. When the connection comes back after an
 * outage, and the server's trade history turns out younger than the oldest of them (a tickfan
 * broker that restarted: its history is in memory; feeds.ts asks), `republishRecentTrades()`
 * sends them again, marked `Tickfan-History-Only`: the broker stores them, each id once, and
 * delivers none of them live again.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { EncodedHeaders, tradeHeaderBlock, sequenceHeaderBlock } from '../lib/headers.ts'
import type { TickPublisher } from './handlers/feed-handler.ts'
import { encodeTick, type Tick } from './tick.ts'

export interface NatsTickPublisherOptions {
  /** Trades kept to republish after a reconnect (ms; 0 keeps none). Default 60 s. */
  recentTradesMs?: number
  /** At most this many of them. Default 100,000. */
  maxRecentTrades?: number
}

interface RecentTrade {
  readonly subject: string
  readonly payload: Buffer
  readonly seq: number
  readonly msgId: string
  readonly atMs: number
}

export interface NatsTickPublisher extends TickPublisher {
  published: number
  republishedTrades: number
  /** When the oldest trade kept was published (ms since the epoch); null when none is kept. */
  readonly oldestRecentAtMs: number | null
  /** Sends the recent trades again (after a reconnect); returns how many. */
  republishRecentTrades (): number
}

export function natsTickPublisher (nc: NatsConnection, options: NatsTickPublisherOptions = {}): NatsTickPublisher {
  const recentMs = options.recentTradesMs ?? 60_000
  const maxRecent = options.maxRecentTrades ?? 100_000
  const recent: RecentTrade[] = []
  let head = 0
  // One headers object and one options object for every publish: nats.js encodes the headers
  // synchronously inside publish(), so reusing them is safe. The payload goes as a Buffer
  // (pooled allocation) rather than a string that the client would run through TextEncoder.
  const h = new EncodedHeaders(sequenceHeaderBlock(0))
  const publishOptions = { headers: h }
  const forgetOld = (now: number): void => {
    const stale = (t: RecentTrade): boolean => now - t.atMs > recentMs
    while (head < recent.length && (stale(recent[head] as RecentTrade) || recent.length - head > maxRecent)) head++
    if (head > 4096 && head * 2 > recent.length) { recent.splice(0, head); head = 0 }
  }
  const publisher: NatsTickPublisher = {
    published: 0,
    republishedTrades: 0,
    get oldestRecentAtMs () {
      forgetOld(Date.now())
      return head < recent.length ? (recent[head] as RecentTrade).atMs : null
    },
    publish (subject: string, tick: Tick): void {
      const payload = Buffer.from(encodeTick(tick))
      if (tick.type === 'trade') {
        const msgId = `${tick.venue}.${tick.symbol}.${tick.tradeId}`
        h.block = tradeHeaderBlock(tick.seq, msgId)
        if (recentMs > 0) {
          const now = Date.now()
          recent.push({ subject, payload, seq: tick.seq, msgId, atMs: now })
          forgetOld(now)
        }
      } else {
        h.block = sequenceHeaderBlock(tick.seq)
      }
      nc.publish(subject, payload, publishOptions)
      publisher.published++
    },
    republishRecentTrades (): number {
      forgetOld(Date.now())
      let n = 0
      for (let i = head; i < recent.length; i++) {
        const t = recent[i] as RecentTrade
        h.block = tradeHeaderBlock(t.seq, t.msgId, true)
        nc.publish(t.subject, t.payload, publishOptions)
        n++
      }
      publisher.republishedTrades += n
      return n
    }
  }
  return publisher
}
