import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { readFileSync } from 'node:fs'
import { connect } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OPTIONS } from '../../broker/options.ts'
import { bundlePath } from '../../broker/bundle.ts'
import { goRuntimeEnv, ROOT, startNatsServerProcess, startTickfanProcess, TICKFAN_HISTORY, type BrokerProcess } from './processes.ts'
import { historySequence, type Varz } from './runner.ts'

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
      // What the suite counts as the history's intake (ScenarioResult.broker.historyTaken).
      expect(await historySequence(server, null)).toBe(5)
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
      expect(await historySequence(server, null)).toBeNull()
    } finally {
      await nc.close()
    }
  })
})

describe('the history intake a run counts', () => {
  it('is the last sequence of tickfan\'s history streams, from its /varz', async () => {
    const broker = await startTickfanProcess(undefined)
    try {
      // The broker as it ships (`npm run broker`): the bundle, built for this run, not the sources through tsx.
      const commandLine = readFileSync(`/proc/${broker.pid}/cmdline`, 'utf8').split('\0')
      expect(commandLine).toContain(bundlePath(ROOT))
      expect(commandLine).not.toContain('tsx')
      const nc = await connect({ servers: broker.natsUrl })
      for (let i = 0; i < 7; i++) nc.publish(`trade.v0.S${i % 3}`, `t${i}`)
      nc.publish('quote.v0.S0', 'not kept')
      await nc.flush()
      await nc.close()
      const varz = await (await fetch(`http://127.0.0.1:${broker.httpPort}/varz`)).json() as Varz
      expect(await historySequence(broker, varz)).toBe(7)
    } finally {
      await broker.stop()
    }
  })

  it('is null for a tickfan broker that keeps no history', async () => {
    const broker = await startTickfanProcess(undefined, ['--history='])
    try {
      const varz = await (await fetch(`http://127.0.0.1:${broker.httpPort}/varz`)).json() as Varz
      expect(await historySequence(broker, varz)).toBeNull()
    } finally {
      await broker.stop()
    }
  })
})

describe('Go\'s runtime settings a report names', () => {
  it('are those of GOGC, GOMEMLIMIT and GODEBUG that are set, in that order', () => {
    expect(goRuntimeEnv({ GOMEMLIMIT: '4GiB', PATH: '/bin', GOGC: 'off', GOMAXPROCS: '3' })).toEqual(['GOGC=off', 'GOMEMLIMIT=4GiB'])
    expect(goRuntimeEnv({ PATH: '/bin' })).toEqual([])
  })
})
