/**
 * A bot that missed trades fills them from the broker's trade history, with the official
 * JetStream client, and ends with every trade the feeds published, each once: cut off for 3
 * seconds (a TCP proxy drops its connection), and across a restart of the only broker (the
 * feed handlers republish their recent trades into the new broker's empty history). Real
 * feeds, a real broker.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { freePorts } from '../lib/ports.ts'
import { startTcpProxy } from '../lib/tcp-proxy.ts'
import { startBrokerCommand } from '../broker/test-support/processes.ts'
import { delay, eventually, startTickfan } from '../broker/test-support/targets.ts'
import { startFeeds, type RunningFeeds } from '../feeds/feeds.ts'
import { findInstruments } from '../feeds/instruments.ts'
import { startBot, tradeFilters } from './bot.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

/** Two venues' feeds, about 300 trades/s in all, stopped after the test. */
async function tradingFeeds (natsUrl: string, seed: number): Promise<RunningFeeds> {
  const feeds = await startFeeds({
    venues: ['binance', 'kraken'],
    instruments: findInstruments(['BTC-USD', 'ETH-USD']),
    ratePerSec: 300,
    tradeRatio: 0.5,
    bursty: false,
    seed,
    natsUrl
  })
  cleanups.push(() => feeds.close())
  return feeds
}

describe('a bot that missed trades', () => {
  it('asks the history for the trades of a 3-second outage and ends with every one, once', async () => {
    const broker = await startTickfan()
    cleanups.push(() => broker.stop())
    const proxy = await startTcpProxy(broker.port)
    cleanups.push(() => proxy.close())
    const bot = await startBot({ name: 'filler', natsUrl: `nats://127.0.0.1:${proxy.port}`, subjects: ['trade.>'], log: () => {} })
    cleanups.push(() => bot.close())
    const feeds = await tradingFeeds(broker.natsUrl, 3)
    await eventually(() => bot.trades.live > 50, 10_000, 'trades flowing')
    const liveBefore = bot.trades.live
    await proxy.cut(3000)
    await eventually(() => bot.trades.live > liveBefore + 50, 10_000, 'trades flowing again')
    for (const h of feeds.handlers) await h.stop()
    await feeds.nc.flush()
    await delay(300)
    await bot.fillsSettled()
    const published = feeds.handlers.reduce((n, h) => n + h.stats.trades, 0)
    const t = bot.trades.report()
    expect(bot.fills).toMatchObject({ failed: 0, lastError: null })
    expect(t.filled).toBeGreaterThan(100) // 3 s at about 300 trades/s were missed live
    expect(t).toMatchObject({ missing: 0, duplicates: 0 })
    expect(t.live + t.filled).toBe(published)
  }, 30_000)

  it('fills what it missed across a restart of the only broker, from the history the feeds republished into', async () => {
    const [port, httpPort] = await freePorts(2)
    const args = ['--workers', '1', '--host', '127.0.0.1', '--port', String(port), `--http-port=${httpPort}`, '--ws-port=-1', '--log-level', 'error']
    let { broker } = await startBrokerCommand(args)
    cleanups.push(() => broker.stop('SIGKILL'))
    const url = `nats://127.0.0.1:${port}`
    const bot = await startBot({ name: 'filler', natsUrl: url, subjects: ['trade.>'], log: () => {} })
    cleanups.push(() => bot.close())
    const feeds = await tradingFeeds(url, 4)
    await eventually(() => bot.trades.live > 50, 10_000, 'trades flowing')
    await broker.stop('SIGKILL')
    await delay(1000)
    ;({ broker } = await startBrokerCommand(args))
    const liveBefore = bot.trades.live
    await eventually(() => bot.trades.live > liveBefore + 50, 15_000, 'trades flowing again')
    for (const h of feeds.handlers) await h.stop()
    await feeds.nc.flush()
    await delay(300)
    await eventually(async () => { await bot.fillsSettled(); return bot.trades.missing === 0 }, 10_000, 'the fills done')
    const published = feeds.handlers.reduce((n, h) => n + h.stats.trades, 0)
    const t = bot.trades.report()
    expect(bot.fills).toMatchObject({ failed: 0, lastError: null })
    // What the killed broker had not delivered, and what was published before the bot was back:
    expect(t.filled).toBeGreaterThan(0)
    expect(t).toMatchObject({ missing: 0, duplicates: 0 })
    expect(t.live + t.filled).toBe(published)
  }, 60_000)

  it('asks only for the trade subjects it subscribed to', () => {
    expect(tradeFilters(['quote.>', 'trade.>', 'bbo.>'])).toEqual(['trade.>'])
    expect(tradeFilters(['trade.*.BTC-USD', 'quote.>'])).toEqual(['trade.*.BTC-USD'])
    expect(tradeFilters(['>'])).toEqual(['trade.>'])
    expect(tradeFilters(['quote.>'])).toEqual([])
  })
})
