/**
 * Publishes canonical ticks with the official NATS client, to the tickfan broker or to any NATS
 * server. Each quote carries its `seq` in the `Tickfan-Seq` header so the broker's last-value
 * cache can drop older values; the payload is the tick as JSON.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node'
import { SEQUENCE_HEADER } from '../broker/wire.ts'
import type { TickPublisher } from './handlers/feed-handler.ts'
import { encodeTick, type Tick } from './tick.ts'

export function natsTickPublisher (nc: NatsConnection): TickPublisher & { published: number } {
  // One headers object and one options object for every publish: nats.js encodes the headers
  // synchronously inside publish(), so reusing them is safe, and it saves an allocation of
  // each per tick (bench:feeds, Binance format: 69k -> 93k ticks/s).
  const h = headers()
  const options = { headers: h }
  const publisher = {
    published: 0,
    publish (subject: string, tick: Tick): void {
      h.set(SEQUENCE_HEADER, String(tick.seq))
      nc.publish(subject, Buffer.from(encodeTick(tick)), options)
      publisher.published++
    }
  }
  return publisher
}
