/**
 * `npm run feeds` as a user runs it: the real command against a running broker, with per-venue
 * rates and per-instrument weights, and its usage errors.
 */
import { connect } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { runCommand, waitForOutput, type CommandProcess } from '../broker/test-support/processes.ts'
import { delay, startTickfan } from '../broker/test-support/targets.ts'
import { parseTick } from './tick.ts'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function runFeeds (args: string[]): CommandProcess {
  return runCommand('feeds/main.ts', args)
}

describe('npm run feeds', () => {
  it('publishes each venue at its own rate and each instrument by its weight', async () => {
    const broker = await startTickfan()
    cleanups.push(() => broker.stop())
    const nc = await connect({ servers: broker.natsUrl })
    cleanups.push(() => nc.close())
    const counts = new Map<string, number>()
    nc.subscribe('quote.>', {
      callback: (_e, m) => {
        const r = parseTick(m.data)
        if (r.ok && r.tick.type === 'quote' && r.tick.republish !== true) counts.set(`${r.tick.venue} ${r.tick.symbol}`, (counts.get(`${r.tick.venue} ${r.tick.symbol}`) ?? 0) + 1)
      }
    })
    await nc.flush()
    const feeds = runFeeds(['--nats', broker.natsUrl, '--venues', 'binance,kraken', '--instruments', 'BTC-USD,ETH-USD', '--rate', '60',
      '--venue-rates', 'binance=600', '--instrument-weights', 'BTC-USD=3', '--no-bursty', '--trade-ratio', '0'])
    cleanups.push(async () => { await feeds.stop() })
    await waitForOutput(feeds, /tickfan feeds publishing/, 20_000, 'the feeds')
    const started = [...counts.values()].reduce((a, b) => a + b, 0)
    await delay(2000)
    const get = (k: string): number => counts.get(k) ?? 0
    const binance = get('binance BTC-USD') + get('binance ETH-USD')
    const kraken = get('kraken BTC-USD') + get('kraken ETH-USD')
    expect(binance + kraken - started).toBeGreaterThan(500)
    // binance at 600/s, kraken at 60/s: about ten to one.
    expect(binance / kraken).toBeGreaterThan(5)
    expect(binance / kraken).toBeLessThan(20)
    // BTC-USD weighs 3, ETH-USD 1: about three to one on each venue.
    expect(get('binance BTC-USD') / get('binance ETH-USD')).toBeGreaterThan(2)
    expect(get('binance BTC-USD') / get('binance ETH-USD')).toBeLessThan(4.5)
  })

  it.each([
    [['--venue-rates', 'binance=fast'], /--venue-rates takes name=number pairs with numbers > 0, got "binance=fast"/],
    [['--venues', 'binance', '--venue-rates', 'kraken=100'], /--venue-rates: "kraken" is not one of --venues/],
    [['--instrument-weights', 'BTC-EUR=2'], /--instrument-weights: "BTC-EUR" is not one of --instruments/],
    [['--instrument-weights', 'BTC-USD=0'], /numbers > 0, got "BTC-USD=0"/]
  ])('refuses %j with a clear error and exit code 2', async (args, message) => {
    const feeds = runFeeds(args)
    expect(await feeds.exited).toBe(2)
    expect(feeds.output()).toMatch(message)
  })
})
