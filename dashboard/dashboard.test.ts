/**
 * The dashboard in a real browser: playwright-core driving Debian's chromium against a real
 * broker, feeds and services. The board fills with prices from all three venues and they
 * change, the chart draws, slow mode raises the skipped count while prices stay fresh, the
 * board recovers after a broker restart, and a tick whose symbol or venue is markup shows nothing
 * (before, its script ran in the page).
 */
import { connect } from '@nats-io/transport-node'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/server.ts'
import { startNatsServer } from '../broker/test-support/nats-server.ts'
import { RawClient } from '../broker/test-support/raw-client.ts'
import { freePorts } from '../lib/ports.ts'
import { delay, eventually } from '../broker/test-support/targets.ts'
import { startFeeds, type RunningFeeds } from '../feeds/feeds.ts'
import { findInstruments } from '../feeds/instruments.ts'
import { startServices, type RunningServices } from '../traders/services.ts'
import { launchChromium } from './browser.ts'
import { MAX_BOARD_INSTRUMENTS } from './src/model.ts'
import { startDashboard, type RunningDashboard } from './server.ts'


interface BoardView {
  venues: number,
  symbols: number,
  received: number,
  skipped: number,
  stalenessMax: number,
  btcBid: string
}

async function view (page: Page): Promise<BoardView> {
  return await page.evaluate(() => {
    const t = (window as unknown as { tickfan?: { board: {
      venues: Set<string>,
      symbols: Set<string>,
      received: number,
      skipped: number,
      staleness (now: number): { max: number }
    } } }).tickfan
    const cell = document.getElementById('c-BTC-USD|binance|bid')
    return {
      venues: t?.board.venues.size ?? 0,
      symbols: t?.board.symbols.size ?? 0,
      received: t?.board.received ?? 0,
      skipped: t?.board.skipped ?? 0,
      stalenessMax: t?.board.staleness(Date.now()).max ?? 0,
      btcBid: cell?.textContent ?? ''
    }
  })
}

describe('dashboard in a real browser', () => {
  let broker: RunningBroker
  let feeds: RunningFeeds
  let services: RunningServices
  let dashboard: RunningDashboard
  let browser: Browser
  let page: Page
  let ports: { port: number, wsPort: number, httpPort: number }
  /** What the browser reported as wrong while the broker was up: console errors and failed requests. */
  const problems: string[] = []

  beforeAll(async () => {
    const [port, wsPort, httpPort] = await freePorts(3)
    ports = { port, wsPort, httpPort }
    broker = await startBroker({ host: '127.0.0.1', ...ports, logLevel: 'silent' })
    // Few trades: they are never conflated, and this test is about the conflated quotes.
    feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], instruments: findInstruments(['BTC-USD', 'ETH-USD', 'SOL-USD']), ratePerSec: 150, tradeRatio: 0.02, seed: 3, natsUrl: broker.natsUrl, republishMs: 500 })
    services = await startServices({ natsUrl: broker.natsUrl, priceMembers: 1, log: () => {} })
    dashboard = await startDashboard({ port: 0, wsUrl: broker.wsUrl as string, varzUrl: `${broker.httpUrl as string}/varz` })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    page.on('pageerror', (err) => { throw err })
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`) })
    page.on('response', (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()} ${res.url()}`) })
    page.on('requestfailed', (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText ?? ''}`))
    await page.goto(dashboard.url)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await dashboard?.close()
    await services?.close()
    await feeds?.close()
    await broker?.close()
  })

  it('fills the board with prices from all three venues, and they change', async () => {
    await eventually(async () => (await view(page)).venues === 3, 15_000, 'quotes from three venues in the browser')
    const first = (await view(page)).btcBid
    expect(first).toMatch(/^\d/)
    await eventually(async () => { const v = await view(page); return v.btcBid !== '' && v.btcBid !== first }, 10_000, 'the BTC-USD binance bid to change')
    const bbo = await page.textContent('[id="c-bbo|BTC-USD|bid"]')
    expect(bbo).toMatch(/binance|coinbase|kraken/)
  })

  it('leaves a row off screen alone while prices stream, and shows its newest prices when it comes into view', async () => {
    const cell = '[id="c-SOL-USD|binance|bid"]'
    await page.setViewportSize({ width: 1400, height: 110 }) // the rows are below the fold
    await delay(300)
    const hidden = await page.textContent(cell)
    const received = (await view(page)).received
    await eventually(async () => (await view(page)).received > received + 100, 10_000, 'prices to keep streaming')
    expect(await page.textContent(cell)).toBe(hidden)
    await page.evaluate(`document.getElementById('row-SOL-USD').scrollIntoView()`)
    await eventually(async () => (await page.textContent(cell)) !== hidden, 5000, 'the row to show its newest prices')
    await page.setViewportSize({ width: 1400, height: 900 })
    await page.evaluate('window.scrollTo(0, 0)')
  })

  it('draws the chart of the selected instrument', async () => {
    await eventually(async () => await page.evaluate(() => document.querySelectorAll('#chart canvas').length > 0), 5000, 'a chart canvas')
    expect(await page.textContent('#chart-title')).toContain('BTC-USD')
  })

  it('loads with no console error and no failed request (the favicon included)', async () => {
    expect(await page.evaluate(async () => (await fetch('/favicon.ico')).headers.get('content-type'))).toBe('image/svg+xml')
    expect(problems).toEqual([])
  })

  it('in slow mode the skipped count rises while prices stay fresh', async () => {
    await page.click('#slow')
    const before = await view(page)
    await eventually(async () => (await view(page)).skipped > before.skipped, 20_000, 'the broker to report skipped updates to the slow browser')
    const v = await view(page)
    // Conflation keeps what is shown fresh. Without it, a browser taking 5 ms per message would
    // fall hundreds of messages a second behind and be tens of seconds stale by now; the bound
    // leaves room for a CPU-starved CI machine.
    expect(v.stalenessMax).toBeLessThan(5000)
    await page.click('#slow')
  })

  it('shows a banner when the broker goes away, and recovers the board when it returns', async () => {
    await broker.close()
    await eventually(async () => await page.isVisible('#banner'), 10_000, 'the lost-connection banner')
    broker = await startBroker({ host: '127.0.0.1', ...ports, logLevel: 'silent' })
    await eventually(async () => !(await page.isVisible('#banner')), 20_000, 'the banner to clear after reconnecting')
    const after = (await view(page)).received
    await eventually(async () => (await view(page)).received > after + 20, 15_000, 'prices flowing again')
    expect((await view(page)).venues).toBe(3)
  })

  it('shows nothing of a tick whose venue or symbol is markup: a publisher cannot run script in the dashboard', async () => {
    const nc = await connect({ servers: broker.natsUrl })
    const now = Date.now()
    const quote = (venue: string, symbol: string): string => JSON.stringify({
      v: 1, type: 'quote', venue, symbol, bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0
    })
    const markup = '<img src=x onerror="window.__markup=1">'
    nc.publish('quote.binance.MARKUP-USD', quote('binance', markup))
    nc.publish('quote.markup.BTC-USD', quote(markup, 'BTC-USD'))
    nc.publish('trade.binance.MARKUP-USD', JSON.stringify({
      v: 1, type: 'trade', venue: 'binance', symbol: markup, price: 1, size: 1, side: 'buy', tradeId: '1', seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0
    }))
    // A well-formed tick after them: once its row is on the board, they were read too.
    nc.publish('quote.binance.AFTER-USD', quote('binance', 'AFTER-USD'))
    await nc.flush()
    await eventually(async () => await page.evaluate(() => document.getElementById('row-AFTER-USD') !== null), 10_000, 'the well-formed tick on the board')
    expect(await page.evaluate(() => (window as unknown as { __markup?: number }).__markup)).toBeUndefined()
    expect(await page.evaluate(() => document.querySelectorAll('#board img, #alerts img').length)).toBe(0)
    // The consolidator read them too and is still there: it gives the well-formed one its BBO.
    // (Before, it published the markup one on an illegal subject, and nats.js closed its connection.)
    await eventually(async () => ((await page.textContent('[id="c-bbo|AFTER-USD|bid"]')) ?? '') !== '', 10_000, 'the BBO of the well-formed tick')
    await nc.close()
  })

  it('shows at most 200 instruments: quotes for ever new ones drop those updated longest ago, never the live ones', async () => {
    const nc = await connect({ servers: broker.natsUrl })
    const now = Date.now()
    for (let i = 0; i < MAX_BOARD_INSTRUMENTS + 100; i++) {
      nc.publish(`quote.binance.F${i}-USD`, JSON.stringify({
        v: 1, type: 'quote', venue: 'binance', symbol: `F${i}-USD`, bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0
      }))
    }
    await nc.flush()
    const last = `row-F${MAX_BOARD_INSTRUMENTS + 99}-USD`
    await eventually(async () => await page.evaluate((id) => document.getElementById(id) !== null, last), 10_000, 'the last instrument on the board')
    // The consolidator gives each new instrument a BBO after its quote, and a BBO updates its row
    // too: until the last one's is in, an early instrument may be back on the board from its BBO.
    type WithBoard = { tickfan: { board: { bbo: Map<string, unknown> } } }
    const hasBbo = async (symbol: string): Promise<boolean> =>
      await page.evaluate((s) => (window as unknown as WithBoard).tickfan.board.bbo.has(s), symbol)
    await eventually(async () => await hasBbo(`F${MAX_BOARD_INSTRUMENTS + 99}-USD`), 10_000, 'the last instrument\'s BBO')
    const rows = async (): Promise<number> => await page.evaluate(() => document.querySelectorAll('#board tbody tr').length)
    await eventually(async () => await rows() === MAX_BOARD_INSTRUMENTS, 5000, 'the board at its bound')
    expect(await page.evaluate(() => document.getElementById('row-F0-USD'))).toBeNull()
    // The feeds' instruments kept updating: they stay.
    for (const symbol of ['BTC-USD', 'ETH-USD', 'SOL-USD']) expect(await page.evaluate((id) => document.getElementById(id) !== null, `row-${symbol}`)).toBe(true)
    await nc.close()
  })
})

describe('dashboard against a real nats-server with websocket enabled', () => {
  it('works unchanged: the board fills from all three venues, and reads on past messages it cannot use', async () => {
    const server = await startNatsServer()
    const feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], instruments: findInstruments(['BTC-USD']), ratePerSec: 100, seed: 4, natsUrl: server.natsUrl })
    const dashboard = await startDashboard({ port: 0, wsUrl: server.wsUrl, varzUrl: `${server.httpUrl}/varz` })
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const pageErrors: string[] = []
      page.on('pageerror', (err) => pageErrors.push(err.message))
      await page.goto(dashboard.url)
      await eventually(async () => (await view(page)).venues === 3, 15_000, 'quotes from three venues through nats-server')
      // nats-server's /varz has the same base fields: the broker panel shows its rates
      await eventually(async () => ((await page.textContent('#broker')) ?? '').includes('deliveries /s'), 5000, 'the health panel')

      // nats-server relays each of these as it came (tickfan's broker refuses the first and takes the
      // last one's header out). Before, the first ended the page's read loop, the third broke the
      // alerts panel at every render, and the fourth made the skipped count NaN for good.
      type Board = { tickfan: { board: { decodeErrors: number, skipped: number } } }
      const decodeErrors = async (): Promise<number> =>
        await page.evaluate(() => (window as unknown as Board).tickfan.board.decodeErrors)
      const before = await decodeErrors()
      const raw = await RawClient.connect(server.port)
      const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'
      const quote = '{"v":1}'
      const forged = 'NATS/1.0\r\nTickfan-Conflated: abc\r\n\r\n'
      const now = Date.now()
      const wholeQuote = JSON.stringify({ v: 1, type: 'quote', venue: 'binance', symbol: 'BTC-USD', bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0 })
      raw.send('CONNECT {"verbose":false,"headers":true}\r\n' +
        `HPUB quote.binance.BTC-USD ${block.length} ${block.length + quote.length}\r\n${block}${quote}\r\n` +
        'PUB stats.traders.fast 2\r\n{}\r\nPUB signal.arbitrage.BTC-USD 2\r\n{}\r\n' +
        `HPUB quote.binance.BTC-USD ${forged.length} ${forged.length + wholeQuote.length}\r\n${forged}${wholeQuote}\r\n`)
      await raw.roundTrip()
      raw.close()
      await eventually(async () => await decodeErrors() === before + 4, 5000, 'the four messages counted as errors')
      expect(await page.evaluate(() => Number.isFinite((window as unknown as Board).tickfan.board.skipped))).toBe(true)
      const received = (await view(page)).received
      await eventually(async () => (await view(page)).received > received + 50, 5000, 'quotes still arriving')
      expect(pageErrors).toEqual([])
    } finally {
      await browser.close()
      await dashboard.close()
      await feeds.close()
      await server.stop()
    }
  }, 60_000)
})
