/**
 * The price requester against real servers (tickfan and nats-server): answers counted per
 * group member, and the two ways a request fails, each reported clearly and without flooding.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, TARGETS } from '../broker/test-support/targets.ts'
import { MAX_MEMBERS_NAMED, OTHER_MEMBERS, startRequester } from './requester.ts'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

describe.each(TARGETS)('requester against $name', ({ start }) => {
  async function connected (): Promise<NatsConnection> {
    const target = await start()
    cleanups.push(() => target.stop())
    const nc = await connect({ servers: target.natsUrl })
    cleanups.push(() => nc.close())
    return nc
  }

  it('counts answers per member of the queue group', async () => {
    const nc = await connected()
    for (const member of ['m1', 'm2']) {
      nc.subscribe('price.*', { queue: 'pricers', callback: (_e, m) => { m.respond(JSON.stringify({ member })) } })
    }
    await nc.flush()
    const requester = startRequester(nc, { symbols: ['BTC-USD'], perSec: 100, log: () => {} })
    cleanups.push(() => requester.stop())
    await eventually(() => requester.stats.answered >= 40, 5000, '40 answers')
    expect(requester.stats.byMember.m1).toBeGreaterThan(0)
    expect(requester.stats.byMember.m2).toBeGreaterThan(0)
    expect(requester.stats.timeouts + requester.stats.noResponders).toBe(0)
  })

  it('counts and reports replies that are not a price, and names at most 64 members: before, one such reply ended the process', async () => {
    const nc = await connected()
    let n = 0
    // A responder anyone could run: garbage, then a member name per answer, one of them `__proto__`.
    nc.subscribe('price.*', { callback: (_e, m) => { n++; m.respond(n <= 5 ? 'garbage' : JSON.stringify({ member: n === 6 ? '__proto__' : `m${n}` })) } })
    await nc.flush()
    const logs: string[] = []
    const requester = startRequester(nc, { symbols: ['BTC-USD'], perSec: 200, reportEveryMs: 60_000, log: (m) => logs.push(m) })
    cleanups.push(() => requester.stop())
    await eventually(() => requester.stats.answered >= 100, 10_000, '100 answers')
    expect(requester.stats.badReplies).toBe(5)
    expect(logs).toEqual(['requester: price.BTC-USD was answered with something that is not a price reply (not JSON)'])
    const names = Object.keys(requester.stats.byMember)
    expect(names).toHaveLength(MAX_MEMBERS_NAMED + 1)
    expect(names).toContain('__proto__')
    expect(requester.stats.byMember[OTHER_MEMBERS]).toBe(requester.stats.answered - MAX_MEMBERS_NAMED)
  })

  it('reports no responders when nobody serves prices, once per interval with a count', async () => {
    const nc = await connected()
    const logs: string[] = []
    const requester = startRequester(nc, { symbols: ['BTC-USD'], perSec: 50, reportEveryMs: 60_000, log: (m) => logs.push(m) })
    cleanups.push(() => requester.stop())
    await eventually(() => requester.stats.noResponders >= 10, 5000, '10 no-responders')
    expect(requester.stats.timeouts).toBe(0)
    expect(logs).toEqual(['requester: no responders for price.BTC-USD: is the price service running (npm run services)?'])
  })

  it('reports a timeout when the service is subscribed but does not answer, with how many since the last report', async () => {
    const nc = await connected()
    nc.subscribe('price.*', { callback: () => {} }) // listens, never answers
    await nc.flush()
    const logs: string[] = []
    const requester = startRequester(nc, { symbols: ['ETH-USD'], perSec: 20, timeoutMs: 100, reportEveryMs: 400, log: (m) => logs.push(m) })
    cleanups.push(() => requester.stop())
    await eventually(() => logs.length >= 2, 5000, 'two timeout reports')
    expect(requester.stats.noResponders).toBe(0)
    expect(logs[0]).toBe('requester: price.ETH-USD timed out after 100 ms: the price service is subscribed but did not answer')
    expect(logs[1]).toMatch(/^requester: price\.ETH-USD timed out after 100 ms: .* \(\d+ since the last report\)$/)
  })
})
