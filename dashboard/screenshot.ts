/**
 * `npm run dashboard:screenshot`: runs broker, feeds, services and the dashboard in this
 * process, opens Debian's chromium with playwright-core, and saves dashboard/screenshot.png
 * (the picture in the README).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runMain } from '../lib/cli-options.ts'
import { launchChromium } from './browser.ts'
import { startDashboardStack } from './stack.ts'

runMain(async () => {
  const stack = await startDashboardStack({ ratePerSec: 200, seed: 1 })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 820 } })
    await page.goto(stack.dashboard.url)
    process.stdout.write('waiting 12 s for the chart to fill...\n')
    await page.waitForTimeout(12_000)
    const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshot.png')
    await page.screenshot({ path: out })
    process.stdout.write(`saved ${out}\n`)
  } finally {
    await browser.close()
    await stack.close()
  }
})
