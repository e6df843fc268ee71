/**
 * A subscription callback that never throws into the NATS client.
 *
 * nats.js calls a subscription's callback inside its read loop. An exception there ends the loop:
 * the connection then reads nothing more, for every subscription on it, until its pings time out
 * minutes later. Anything a message can make a handler throw on (a header block nats.js cannot
 * read when `msg.headers` is touched, JSON of an unexpected shape) would thus silence the whole
 * connection. Each subscription of tickfan's services, bots and dashboard goes through this guard:
 * the message that threw is handed to `onFailure` (to count and log), and the next is read.
 */
import type { Msg } from '@nats-io/nats-core'

export function guardedCallback (
  handle: (msg: Msg) => void,
  onFailure: (msg: Msg, err: unknown) => void
): (err: Error | null, msg: Msg) => void {
  return (err, msg) => {
    if (err !== null) return
    try {
      handle(msg)
    } catch (e) {
      onFailure(msg, e)
    }
  }
}

/** What threw, in a few words for a log line. */
export function failureReason (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
