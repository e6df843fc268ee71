/**
 * `npm run dashboard:screenshot`: runs broker, feeds, services and the dashboard in this
 * process, opens Debian's chromium with playwright-core, and saves dashboard/screenshot.png
 * (the picture in the README).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runMain } from '../broker/cli-options.ts'
import { startBroker } from '../broker/server.ts'
import { startFeeds } from '../feeds/feeds.ts'
import { startServices } from '../traders/services.ts'
import { launchChromium } from './browser.ts'
import { startDashboard } from './server.ts'

runMain(async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, httpPort: 0, logLevel: 'silent' })
  const feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], ratePerSec: 200, seed: 1, natsUrl: broker.natsUrl })
  const services = await startServices({ natsUrl: broker.natsUrl, log: () => {} })
  const dashboard = await startDashboard({ port: 0, wsUrl: broker.wsUrl as string, varzUrl: `${broker.httpUrl as string}/varz` })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 820 } })
    await page.goto(dashboard.url)
    process.stdout.write('waiting 12 s for the chart to fill...\n')
    await page.waitForTimeout(12_000)
    const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshot.png')
    await page.screenshot({ path: out })
    process.stdout.write(`saved ${out}\n`)
  } finally {
    await browser.close()
    await dashboard.close()
    await services.close()
    await feeds.close()
    await broker.close()
  }
})
