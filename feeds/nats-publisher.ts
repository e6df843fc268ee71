/**
 * Publishes canonical ticks with the official NATS client, to the tickfan broker or to any NATS
 * server. Each tick carries its `seq` in the `Tickfan-Seq` header so the broker's last-value
 * cache can drop older values; the payload is the tick as JSON.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { EncodedHeaders, sequenceHeaderBlock } from '../lib/headers.ts'
import type { TickPublisher } from './handlers/feed-handler.ts'
import { encodeTick, type Tick } from './tick.ts'

export function natsTickPublisher (nc: NatsConnection): TickPublisher & { published: number } {
  // One headers object and one options object for every publish: nats.js encodes the headers
  // synchronously inside publish(), so reusing them is safe. The payload goes as a Buffer
  // (pooled allocation) rather than a string that the client would run through TextEncoder.
  const h = new EncodedHeaders(sequenceHeaderBlock(0))
  const options = { headers: h }
  const publisher = {
    published: 0,
    publish (subject: string, tick: Tick): void {
      h.block = sequenceHeaderBlock(tick.seq)
      nc.publish(subject, Buffer.from(encodeTick(tick)), options)
      publisher.published++
    }
  }
  return publisher
}
