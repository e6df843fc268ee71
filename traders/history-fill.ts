/**
 * Fills a subscriber's missed trades from the broker's trade history, with the official
 * JetStream client: an ordered consumer from a start time, read in batches until nothing is
 * pending, each trade noted in the subscriber's TradeLedger (which counts what it did not have
 * as filled, and what it had as a duplicate). The same code reads tickfan's history and a
 * JetStream stream on a NATS server.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { parseTick } from '../feeds/tick.ts'
import type { TradeLedger } from './trade-ledger.ts'

export interface FillOptions {
  /** The history stream (tickfan's default: `trades`). */
  stream?: string
  /** The trades wanted (a subject, wildcards allowed). */
  filter: string
  /** From when (ms since the epoch), as the history stamps messages. */
  sinceMs: number
  /** Messages per pull. */
  batch?: number
}

export interface FillResult {
  /** Messages read from the history; of them, trades the ledger did not have. */
  read: number
  filled: number
}

export async function fillFromHistory (
  nc: NatsConnection,
  ledger: TradeLedger,
  options: FillOptions
): Promise<FillResult> {
  const js = jetstream(nc)
  const consumer = await js.consumers.get(options.stream ?? 'trades', {
    filter_subjects: options.filter,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(options.sinceMs).toISOString()
  })
  let read = 0
  let filled = 0
  try {
    for (;;) {
      const batch = await consumer.fetch({ max_messages: options.batch ?? 500, expires: 1000 })
      let got = 0
      let caughtUp = false
      for await (const m of batch) {
        got++
        read++
        const parsed = parseTick(m.data)
        if (parsed.ok && parsed.tick.type === 'trade' && ledger.note(parsed.tick, 'history', Date.now())) filled++
        if (m.info.pending === 0) { caughtUp = true; batch.stop() }
      }
      if (caughtUp || got === 0) break
    }
  } finally {
    await consumer.delete().catch(() => {})
  }
  return { read, filled }
}
