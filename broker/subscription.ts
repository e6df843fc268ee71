/** One SUB of one connection: what the subject trie stores and the outbox keys conflation by. */
import type { Client } from './client.ts'
import type { OutboxSubscription } from './outbox.ts'
import type { Interest } from './subject-trie.ts'
import { encodeSid } from './wire.ts'

let nextSubscriptionUid = 1

export class Subscription implements Interest, OutboxSubscription {
  readonly uid = nextSubscriptionUid++
  readonly sidBytes: Buffer
  /** Deliveries after which the subscription ends (UNSUB with max); 0 = unlimited. */
  max = 0
  delivered = 0
  closed = false
  /**
   * Made while messages its client published before it were still on their way round this
   * worker's loopback (several workers): they must not reach it, as one nats-server handles a
   * client's commands in order. Cleared once they have been delivered (Client.sub).
   */
  afterOwnInFlight = false

  constructor (
    readonly client: Client,
    readonly subject: string,
    readonly queue: string | undefined,
    readonly sid: string
  ) {
    this.sidBytes = encodeSid(sid)
  }
}
