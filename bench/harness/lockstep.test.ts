import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LockstepLoad } from './lockstep.ts'
import { startNatsServerProcess, type BrokerProcess } from './processes.ts'

// The lockstep load against a real nats-server: every round reaches every subscriber before the
// next, in rounds of the size the session was opened with.
describe('the lockstep load', () => {
  let broker: BrokerProcess
  let load: LockstepLoad
  beforeAll(async () => {
    broker = await startNatsServerProcess(undefined)
    load = new LockstepLoad(undefined)
  })
  afterAll(async () => {
    await load.stop()
    await broker.stop()
  })

  it('delivers whole rounds of its default size to every subscriber', async () => {
    await load.open('default', { url: broker.natsUrl, path: 'trade', subscribers: 2, subjects: 10, payloadBytes: 64 })
    const m = await load.measure('default', broker.pid, 250)
    // 250 messages are three rounds of 100.
    expect(m).toMatchObject({ delivered: 600, expected: 600, stalls: 0 })
    expect(m.brokerNsPerDelivery).toBeGreaterThan(0)
  })

  it('publishes in rounds of the size a session is opened with', async () => {
    await load.open('small', { url: broker.natsUrl, path: 'plain', subscribers: 3, subjects: 10, payloadBytes: 64, round: 7 })
    const m = await load.measure('small', broker.pid, 10)
    // 10 messages are two rounds of 7.
    expect(m).toMatchObject({ delivered: 42, expected: 42, stalls: 0 })
  })
})
