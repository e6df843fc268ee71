/**
 * Publishes canonical ticks with the official NATS client, to the tickfan broker or to any NATS
 * server. Each quote carries its `seq` in the `Tickfan-Seq` header so the broker's last-value
 * cache can drop older values; the payload is the tick as JSON.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node'
import { SEQUENCE_HEADER } from '../broker/wire.ts'
import type { TickPublisher } from './handlers/feed-handler.ts'
import type { Tick } from './tick.ts'

const encoder = new TextEncoder()

export function natsTickPublisher (nc: NatsConnection): TickPublisher & { published: number } {
  const publisher = {
    published: 0,
    publish (subject: string, tick: Tick): void {
      const h = headers()
      h.set(SEQUENCE_HEADER, String(tick.seq))
      nc.publish(subject, encoder.encode(JSON.stringify(tick)), { headers: h })
      publisher.published++
    }
  }
  return publisher
}
