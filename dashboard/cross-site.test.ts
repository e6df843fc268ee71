/**
 * Cross-site WebSocket hijacking, in a real browser. A browser lets any page open a WebSocket to
 * 127.0.0.1 and only tells the server which page asked (the Origin header). chromium maps
 * `evil.example` to this machine, so a page served from there is, to the browser, another site.
 * That page tries to publish a quote into the broker. tickfan refuses it by its origin
 * (broker/ws-origin.ts); the same page served from 127.0.0.1, the dashboard's case, is served.
 * A page that rebinds its name to this machine cannot read the HTTP ports either (lib/allowed-hosts.ts).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/server.ts'
import { launchChromium } from './browser.ts'
import { startDashboard, type RunningDashboard } from './server.ts'

/** A page that opens the broker's WebSocket, publishes a quote, and says how it went in `window.result`. */
function page (wsUrl: string, symbol: string): string {
  return `<!doctype html><script>
    const ws = new WebSocket(${JSON.stringify(wsUrl)})
    ws.binaryType = 'arraybuffer'
    ws.onmessage = () => {
      const quote = '{"v":1,"type":"quote","venue":"binance","symbol":"${symbol}","bid":1,"bidSize":1,"ask":2,"askSize":1,"venueSeq":null,"seq":1,"venueTime":0,"recvTime":0,"pubTime":0,"pubMono":0}'
      ws.send('CONNECT {"verbose":false}\\r\\nPUB quote.binance.${symbol} ' + quote.length + '\\r\\n' + quote + '\\r\\nPING\\r\\n')
      ws.onmessage = (e) => { if (new TextDecoder().decode(e.data).includes('PONG')) window.result = 'published' }
    }
    ws.onclose = () => { window.result ??= 'refused' }
  </script>`
}

describe('a page from another site and the broker\'s WebSocket port', () => {
  let broker: RunningBroker
  let pages: http.Server
  let pagePort: number
  let browser: Browser
  let dashboard: RunningDashboard

  beforeAll(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, httpPort: 0, logLevel: 'silent' })
    dashboard = await startDashboard({ port: 0, wsUrl: broker.wsUrl as string, varzUrl: `${broker.httpUrl as string}/varz` })
    pages = http.createServer((req, res) => {
      const symbol = new URL(req.url ?? '/', 'http://x').searchParams.get('symbol') ?? 'X-USD'
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(broker.wsUrl as string, symbol))
    })
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve))
    pagePort = (pages.address() as AddressInfo).port
    browser = await launchChromium(['--host-resolver-rules=MAP evil.example 127.0.0.1'])
  }, 30_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => pages?.close(resolve))
    await dashboard?.close()
    await broker?.close()
  })

  const visit = async (origin: string, symbol: string): Promise<string> => {
    const tab = await browser.newPage()
    try {
      await tab.goto(`${origin}:${pagePort}/?symbol=${symbol}`)
      const settled = (): boolean => (window as unknown as { result?: string }).result !== undefined
      await tab.waitForFunction(settled, undefined, { timeout: 10_000 })
      return await tab.evaluate(() => (window as unknown as { result: string }).result)
    } finally {
      await tab.close()
    }
  }

  it('cannot publish from another site: the upgrade is refused and nothing is cached', async () => {
    expect(await visit('http://evil.example', 'EVIL-USD')).toBe('refused')
    expect(broker.router.lastValues.get('quote.binance.EVIL-USD')).toBeUndefined()
  })

  it('publishes from a page of this machine, as the dashboard is', async () => {
    expect(await visit('http://127.0.0.1', 'LOCAL-USD')).toBe('published')
    expect(broker.router.lastValues.get('quote.binance.LOCAL-USD')).toBeDefined()
  })

  // DNS rebinding: evil.example's page made its name resolve to this machine, so to the browser
  // the monitoring port at evil.example:<port> is a page of evil.example's own, readable by its
  // scripts. Only the Host header the browser sends tells the broker; it refuses the name.
  it('a page that rebinds its name to this machine reads neither the monitoring nor the dashboard', async () => {
    const status = async (url: string): Promise<[number, string]> => {
      const tab = await browser.newPage()
      try {
        const response = await tab.goto(url)
        return [response?.status() ?? 0, await tab.evaluate(() => document.body.innerText)]
      } finally {
        await tab.close()
      }
    }
    for (const [port, path] of [[broker.httpPort, '/connz'], [dashboard.port, '/api/varz'], [dashboard.port, '/']] as const) {
      const [code, text] = await status(`http://evil.example:${port}${path}`)
      expect(code, path).toBe(403)
      expect(text).toContain('a guard against DNS rebinding')
      expect((await status(`http://127.0.0.1:${port}${path}`))[0], path).toBe(200)
      expect((await status(`http://localhost:${port}${path}`))[0], path).toBe(200)
    }
  })
})
