/**
 * Headers for the official client's publish(), already encoded. nats.js's publish() asks the
 * headers it is given for nothing but `encode()`, synchronously, while the generic MsgHdrsImpl
 * re-validates and re-walks its map on every set and encode (about a sixth of a feed handler's
 * core: bench:feeds). Used to forward a message's header block unchanged (upstream links) and
 * to send each tick's Tickfan-Seq (feed handlers). Only `encode()` reflects `block`.
 */
import { MsgHdrsImpl } from '@nats-io/transport-node'
import { HEADER_PREAMBLE, SEQUENCE_HEADER } from './wire.ts'

export class EncodedHeaders extends MsgHdrsImpl {
  constructor (public block: Uint8Array) { super() }
  override encode (): Uint8Array { return this.block }
}

/** A header block holding only `Tickfan-Seq: <seq>`. */
export function sequenceHeaderBlock (seq: number): Buffer {
  return Buffer.from(`${HEADER_PREAMBLE}\r\n${SEQUENCE_HEADER}: ${seq}\r\n\r\n`, 'latin1')
}
