import type { NatsConnection } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { natsTickPublisher } from './nats-publisher.ts'
import type { QuoteTick, TradeTick } from './tick.ts'

/** A connection that records what is published, with its header block. */
function recordingConnection (): { nc: NatsConnection, sent: Array<{ subject: string, headers: string }> } {
  const sent: Array<{ subject: string, headers: string }> = []
  const nc = {
    publish (subject: string, _payload: Uint8Array, options: { headers: { encode: () => Uint8Array } }) {
      sent.push({ subject, headers: Buffer.from(options.headers.encode()).toString('latin1') })
    }
  } as unknown as NatsConnection
  return { nc, sent }
}

const trade = (id: number): TradeTick => ({
  v: 1, type: 'trade', venue: 'kraken', symbol: 'BTC-USD', price: 1, size: 1, side: 'buy', tradeId: String(id),
  seq: id, venueTime: 0, recvTime: 0, pubTime: 0, pubMono: 0
})
const quote: QuoteTick = {
  v: 1, type: 'quote', venue: 'kraken', symbol: 'BTC-USD', bid: 1, bidSize: 1, ask: 2, askSize: 1,
  venueSeq: 1, seq: 9, venueTime: 0, recvTime: 0, pubTime: 0, pubMono: 0
}

describe('natsTickPublisher', () => {
  it('gives each trade a Nats-Msg-Id (venue, instrument, venue trade id) and each tick its Tickfan-Seq', () => {
    const { nc, sent } = recordingConnection()
    const p = natsTickPublisher(nc)
    p.publish('trade.kraken.BTC-USD', trade(41))
    p.publish('quote.kraken.BTC-USD', quote)
    expect(sent[0]?.headers).toContain('Nats-Msg-Id: kraken.BTC-USD.41\r\n')
    expect(sent[0]?.headers).toContain('Tickfan-Seq: 41\r\n')
    expect(sent[1]?.headers).not.toContain('Nats-Msg-Id')
  })

  it('republishes its recent trades, and no more than it keeps, with the same ids', () => {
    const { nc, sent } = recordingConnection()
    const p = natsTickPublisher(nc, { maxRecentTrades: 3 })
    for (let id = 1; id <= 5; id++) p.publish('trade.kraken.BTC-USD', trade(id))
    p.publish('quote.kraken.BTC-USD', quote)
    sent.length = 0
    expect(p.republishRecentTrades()).toBe(3)
    expect(sent.map((s) => /Nats-Msg-Id: (\S+)/.exec(s.headers)?.[1])).toEqual(['kraken.BTC-USD.3', 'kraken.BTC-USD.4', 'kraken.BTC-USD.5'])
    expect(sent.every((s) => s.headers.includes('Tickfan-History-Only: true\r\n'))).toBe(true)
    expect(p.republishedTrades).toBe(3)
  })

  it('keeps none with recentTradesMs 0', () => {
    const { nc } = recordingConnection()
    const p = natsTickPublisher(nc, { recentTradesMs: 0 })
    p.publish('trade.kraken.BTC-USD', trade(1))
    expect(p.republishRecentTrades()).toBe(0)
  })
})
