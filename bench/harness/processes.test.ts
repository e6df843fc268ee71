import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OPTIONS } from '../../broker/options.ts'
import { startNatsServerProcess, TICKFAN_HISTORY, type BrokerProcess } from './processes.ts'

describe('nats-server keeping what tickfan keeps (the suite\'s --nats-history)', () => {
  let server: BrokerProcess | null = null
  afterEach(async () => { await server?.stop(); server = null })

  it('stores every core publish to a history subject in a memory stream with tickfan\'s limits', async () => {
    expect(TICKFAN_HISTORY.map((h) => [h.name, h.subjects])).toEqual([['trades', ['trade.>']]])
    server = await startNatsServerProcess(undefined, 0, undefined, undefined, TICKFAN_HISTORY)
    const nc = await connect({ servers: server.natsUrl })
    try {
      for (let i = 0; i < 5; i++) nc.publish(`trade.v${i % 2}.BTC-USD`, `t${i}`)
      nc.publish('quote.v0.BTC-USD', 'not kept')
      await nc.flush()
      const info = await (await jetstreamManager(nc)).streams.info('trades')
      expect(info.state.messages).toBe(5)
      expect(info.config.storage).toBe(StorageType.Memory)
      expect(info.config.subjects).toEqual(['trade.>'])
      expect(info.config.max_bytes).toBe(DEFAULT_OPTIONS.historyMaxBytes)
      expect(info.config.max_age).toBe(DEFAULT_OPTIONS.historyMaxAgeMs * 1e6)
      expect(info.config.max_msgs_per_subject).toBe(DEFAULT_OPTIONS.historyMaxMsgsPerSubject)
      expect(info.config.duplicate_window).toBe(DEFAULT_OPTIONS.historyDuplicateWindowMs * 1e6)
    } finally {
      await nc.close()
    }
  })

  it('keeps nothing without it: JetStream is off', async () => {
    server = await startNatsServerProcess(undefined)
    const nc = await connect({ servers: server.natsUrl })
    try {
      const jsm = await jetstreamManager(nc, { timeout: 1000 }).catch((err: unknown) => err as Error)
      expect(jsm).toBeInstanceOf(Error)
    } finally {
      await nc.close()
    }
  })
})
