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

  constructor (
    readonly client: Client,
    readonly subject: string,
    readonly queue: string | undefined,
    readonly sid: string
  ) {
    this.sidBytes = encodeSid(sid)
  }
}
