/**
 * `npm run dashboard:soak -- --minutes 10 --instruments 100 --rate 1000`: the dashboard under
 * load in headless chromium. Broker, feeds (N generated instruments on three venues) and the
 * dashboard run here; every 10 s it prints frames per second, long frames (> 50 ms) and the page's
 * JS heap, and at the end the heap's trend over the second half. It passes when the page keeps
 * at least 30 frames/s and the heap shows no upward trend (under 0.1 MiB/min).
 */
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { slope } from '../lib/trend.ts'
import { defineInstrument } from '../feeds/instruments.ts'
import { launchChromium } from './browser.ts'
import { startDashboardStack } from './stack.ts'

const CLI = {
  minutes: { type: 'number', default: 10, min: 0.2, help: 'How long to run' },
  instruments: { type: 'integer', default: 100, min: 1, max: 1000, help: 'Generated instruments every venue lists' },
  rate: { type: 'integer', default: 1000, min: 1, help: 'Venue messages per second, per venue' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run dashboard:soak --', 'The dashboard under load in headless chromium: frame rate and heap over time.', CLI)); return }
  const instruments = Array.from({ length: o.instruments }, (_, i) => defineInstrument(`C${String(i).padStart(3, '0')}-USD`, 0.01, 0.001, 50 + i, 0.0006))
  const stack = await startDashboardStack({ instruments, ratePerSec: o.rate, seed: 9 })
  const browser = await launchChromium(['--enable-precise-memory-info', '--js-flags=--expose-gc'])
  const heap: Array<[number, number]> = []
  const fpsSamples: number[] = []
  let longFrames = 0
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    await page.goto(stack.dashboard.url)
    // A string, not a function: the TypeScript loader would wrap a named inner function in a
    // helper that does not exist inside the page.
    await page.evaluate(`(() => {
      window.soak = { frames: 0, long: 0, last: performance.now() }
      const tick = (t) => { window.soak.frames++; if (t - window.soak.last > 50) window.soak.long++; window.soak.last = t; requestAnimationFrame(tick) }
      requestAnimationFrame(tick)
    })()`)
    process.stdout.write(`dashboard soak: ${o.instruments} instruments x 3 venues at ${o.rate} msgs/s per venue for ${o.minutes} min\n`)
    const start = Date.now()
    const end = start + o.minutes * 60_000
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10_000))
      const m = await page.evaluate(() => {
        const w = window as unknown as {
          soak: { frames: number, long: number },
          tickfan: { board: { received: number } }
        }
        // Collect first: what is left is what the page holds, not garbage not yet collected.
        ;(window as unknown as { gc?: () => void }).gc?.()
        const out = {
          frames: w.soak.frames,
          long: w.soak.long,
          heap: (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0,
          received: w.tickfan.board.received
        }
        w.soak.frames = 0
        w.soak.long = 0
        return out
      })
      const seconds = (Date.now() - start) / 1000
      heap.push([Date.now() - start, m.heap])
      fpsSamples.push(m.frames / 10)
      longFrames += m.long
      process.stdout.write(`  ${seconds.toFixed(0).padStart(4)} s  ${(m.frames / 10).toFixed(0).padStart(3)} frames/s  long frames ${m.long}  heap ${(m.heap / 2 ** 20).toFixed(1)} MiB  ticks received ${m.received.toLocaleString('en-US')}\n`)
    }
  } finally {
    await browser.close()
    await stack.close()
  }
  const trendMiBPerMin = slope(heap.slice(Math.floor(heap.length / 2))) * 60 / 2 ** 20
  const minFps = Math.min(...fpsSamples)
  const pass = minFps >= 30 && trendMiBPerMin < 0.1
  process.stdout.write(`${pass ? 'PASS' : 'FAIL'}  lowest frame rate ${minFps.toFixed(0)}/s (>= 30), long frames ${longFrames}, heap trend over the second half ${trendMiBPerMin.toFixed(3)} MiB/min (< 0.1)\n`)
  if (!pass) process.exitCode = 1
})
