/**
 * The header names tickfan's messages carry, and headers for the official client's publish()
 * already encoded. Shared by the broker (which reads and writes them on the wire), the feeds
 * (which stamp each tick's sequence) and the traders (which read what was conflated).
 *
 * nats.js's publish() asks the headers it is given for nothing but `encode()`, synchronously,
 * while the generic MsgHdrsImpl re-validates and re-walks its map on every set and encode
 * (about a sixth of a feed handler's core: bench:feeds). `EncodedHeaders` forwards a message's
 * header block unchanged (upstream links) or sends each tick's Tickfan-Seq (feed handlers).
 * Only `encode()` reflects `block`.
 */
import { MsgHdrsImpl } from '@nats-io/transport-node'

export const HEADER_PREAMBLE = 'NATS/1.0'
/** Header carrying the publisher's sequence for a last-value subject; older values are dropped. */
export const SEQUENCE_HEADER = 'Tickfan-Seq'
/** A publisher's id for a message: a history stream stores each id once within its duplicate window (as JetStream). */
export const MSG_ID_HEADER = 'Nats-Msg-Id'
/**
 * On a message for a history stream: store it, deliver it to no one live. Feed handlers send
 * their recent trades again with it after a reconnect, for a broker that restarted with an
 * empty history; its live subscribers had them already or fill them from the history. A server
 * without tickfan's history (nats-server) delivers such a message like any other.
 */
export const HISTORY_ONLY_HEADER = 'Tickfan-History-Only'
/** Header added to a conflated delivery: how many newer-superseded values were skipped. */
export const CONFLATED_HEADER = 'Tickfan-Conflated'

export class EncodedHeaders extends MsgHdrsImpl {
  constructor (public block: Uint8Array) { super() }
  override encode (): Uint8Array { return this.block }
}

/**
 * A trade's header block: `Tickfan-Seq: <seq>` and `Nats-Msg-Id: <id>` (line breaks taken out
 * of the id), and `Tickfan-History-Only: true` for a republished one.
 */
export function tradeHeaderBlock (seq: number, msgId: string, historyOnly = false): Buffer {
  const id = msgId.replace(/[\r\n]/g, '')
  const only = historyOnly ? `${HISTORY_ONLY_HEADER}: true\r\n` : ''
  return Buffer.from(`${HEADER_PREAMBLE}\r\n${SEQUENCE_HEADER}: ${seq}\r\n${MSG_ID_HEADER}: ${id}\r\n${only}\r\n`, 'latin1')
}

/** A header block holding only `Tickfan-Seq: <seq>`. */
export function sequenceHeaderBlock (seq: number): Buffer {
  return Buffer.from(`${HEADER_PREAMBLE}\r\n${SEQUENCE_HEADER}: ${seq}\r\n\r\n`, 'latin1')
}
