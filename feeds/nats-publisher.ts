/**
 * Publishes canonical ticks with the official NATS client, to the tickfan broker or to any NATS
 * server. Each tick carries its `seq` in the `Tickfan-Seq` header so the broker's last-value
 * cache can drop older values; the payload is the tick as JSON.
 */
import { MsgHdrsImpl, type NatsConnection } from '@nats-io/transport-node'
import { SEQUENCE_HEADER } from '../broker/wire.ts'
import type { TickPublisher } from './handlers/feed-handler.ts'
import { encodeTick, type Tick } from './tick.ts'

/**
 * Headers holding exactly one `Tickfan-Seq` value, encoded straight from the number. nats.js's
 * publish() calls only `encode()` on the headers it is given, synchronously; the generic
 * MsgHdrsImpl re-validates the key and value and walks its map on every set and encode, which
 * was about a sixth of a feed handler's core (bench:feeds). The value is also kept in the
 * inherited map, so get()/has() answer as usual.
 */
class SequenceHeaders extends MsgHdrsImpl {
  private sequence = 0

  constructor () {
    super()
    this.set(SEQUENCE_HEADER, '0')
  }

  setSequence (seq: number): void {
    this.sequence = seq
  }

  override get (k: string): string {
    return k === SEQUENCE_HEADER ? String(this.sequence) : super.get(k)
  }

  override encode (): Uint8Array {
    return Buffer.from(`NATS/1.0\r\n${SEQUENCE_HEADER}: ${this.sequence}\r\n\r\n`, 'latin1')
  }
}

export function natsTickPublisher (nc: NatsConnection): TickPublisher & { published: number } {
  // One headers object and one options object for every publish: nats.js encodes the headers
  // synchronously inside publish(), so reusing them is safe, and it saves an allocation of
  // each per tick. The payload goes as a Buffer (pooled allocation) rather than a string that
  // the client would run through TextEncoder.
  const h = new SequenceHeaders()
  const options = { headers: h }
  const publisher = {
    published: 0,
    publish (subject: string, tick: Tick): void {
      h.setSequence(tick.seq)
      nc.publish(subject, Buffer.from(encodeTick(tick)), options)
      publisher.published++
    }
  }
  return publisher
}
