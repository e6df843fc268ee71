/**
 * End to end through the README's command: `npm start` brings up broker, venues, feed handlers,
 * services and bots; a client sees quotes from all three venues, bbo.*, and price answers from
 * several queue-group members; Ctrl-C (SIGINT to the process group, as a terminal sends it)
 * stops everything and leaves no process behind.
 */
import { execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { freePorts } from '../lib/ports.ts'
import { eventually } from '../broker/test-support/targets.ts'
import { getWithHost } from '../broker/test-support/http-get.ts'
import type { QuoteTick } from '../feeds/tick.ts'
import type { PriceReply } from '../traders/services.ts'
import type { GroupStats } from '../traders/stats.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function processesMentioning (text: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
  return out.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'))
}

describe('npm start', () => {
  it('runs the whole demo, and Ctrl-C stops every process', async () => {
    const [port, wsPort, httpPort, dashboardPort] = await freePorts(4)
    const demo = spawn('npm', ['start', '--', '--port', String(port), '--ws-port', String(wsPort), '--http-port', String(httpPort), '--dashboard-port', String(dashboardPort), '--bots', '6', '--rate', '200', '--allowed-hosts', 'demo.example'],
      { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    demo.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    demo.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    let exitedEarly = false
    const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => demo.once('exit', (code, signal) => { exitedEarly = true; resolve({ code, signal }) }))
    try {
      await eventually(() => {
        if (exitedEarly) throw new Error('the demo exited before it was ready')
        return stdout.includes('tickfan demo ready')
      }, 40_000, 'the demo to be ready')
      expect(stdout).toContain(`nats://127.0.0.1:${port}`)
      expect(stdout).toContain(`ws://127.0.0.1:${wsPort}`)
      expect(stdout).toContain(`http://127.0.0.1:${httpPort}`)
      expect(stdout).toContain(`Dashboard   http://127.0.0.1:${dashboardPort}`)
      const page = await fetch(`http://127.0.0.1:${dashboardPort}/`)
      expect(await page.text()).toContain('<title>tickfan: live market</title>')
      // --allowed-hosts reaches the monitoring port and the dashboard: the name listed is served, others refused.
      for (const [p, url] of [[dashboardPort, '/'], [httpPort, '/varz']] as const) {
        expect((await getWithHost(p, url, `demo.example:${p}`)).status).toBe(200)
        expect((await getWithHost(p, url, `evil.example:${p}`)).status).toBe(403)
      }

      const nc = await connect({ servers: `nats://127.0.0.1:${port}` })
      const venues = new Set<string>()
      let bbo = 0
      const bots: GroupStats[] = []
      const decode = (d: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(d))
      nc.subscribe('quote.*.BTC-USD', { callback: (_e, m) => { venues.add((decode(m.data) as QuoteTick).venue) } })
      nc.subscribe('bbo.*', { callback: () => { bbo++ } })
      nc.subscribe('stats.traders.*', { callback: (_e, m) => { bots.push(decode(m.data) as GroupStats) } })
      await eventually(() => venues.size === 3 && bbo > 0, 10_000, 'quotes from all three venues and a bbo')
      await eventually(() => bots.some((s) => s.group === 'fast' && s.received > 0), 10_000, 'bots receiving')
      const members = new Set<string>()
      for (let i = 0; i < 30; i++) members.add((decode((await nc.request('price.BTC-USD', '', { timeout: 2000 })).data) as PriceReply).member)
      expect(members.size).toBeGreaterThanOrEqual(2)
      await eventually(() => stdout.includes('ticks in'), 5000, 'a status line')
      expect(bots.every((s) => s.orderViolations === 0)).toBe(true)
      // A client without credentials is the read-only viewer: it may watch, not move prices.
      const errors: string[] = []
      void (async () => { for await (const s of nc.status()) if (s.type === 'error') errors.push(s.error.message) })()
      nc.publish('quote.binance.BTC-USD', 'fake price')
      await nc.flush()
      await eventually(() => errors.length > 0, 5000, 'a permissions error')
      expect(errors[0]).toMatch(/Permissions Violation for Publish to "quote.binance.BTC-USD"/i)
      expect(stdout).toContain('only the feed handlers may publish')
      await nc.close()
    } catch (err) {
      // Show why: what the demo said on stderr is the real cause when it stopped on its own.
      throw new Error(`${(err as Error).message}\ndemo stderr:\n${stderr.slice(-2000)}`)
    } finally {
      try {
        process.kill(-(demo.pid as number), 'SIGINT') // Ctrl-C: the whole foreground process group
      } catch { /* the demo already exited; the assertions below say how */ }
    }
    // npm re-raises the SIGINT after its script exits; the demo itself must have stopped cleanly.
    const { code, signal } = await exited
    expect(code === 0 || signal === 'SIGINT').toBe(true)
    expect(stdout).toMatch(/SIGINT: stopping broker, feeds, services, traders/)
    expect(stderr).not.toMatch(/stopped unexpectedly|fatal/)
    await eventually(() => processesMentioning(`127.0.0.1:${port}`).length === 0 && processesMentioning(`--port ${port}`).length === 0, 10_000, 'every demo process to exit')
  }, 90_000)

  // Ctrl-C reaches every process of the group, in no set order: a child may be gone before the
  // demo's own SIGINT handler runs. Here the broker gets it first, by a clear 300 ms.
  it('takes a child that stopped cleanly just before its own Ctrl-C as part of that Ctrl-C, not a crash', async () => {
    const [port, wsPort, httpPort, dashboardPort] = await freePorts(4)
    const demo = spawn(process.execPath, ['--import', 'tsx', 'dashboard/demo.ts', '--port', String(port), '--ws-port', String(wsPort), '--http-port', String(httpPort), '--dashboard-port', String(dashboardPort), '--bots', '2', '--rate', '50'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    demo.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    demo.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)))
    try {
      await eventually(() => stdout.includes('tickfan demo ready'), 40_000, 'the demo to be ready')
      const broker = processesMentioning(`--port ${port}`).find((line) => line.includes('broker'))
      expect(broker).toBeDefined()
      process.kill(Number((broker as string).trim().split(/\s+/)[0]), 'SIGINT')
      await new Promise((resolve) => setTimeout(resolve, 300))
    } finally {
      demo.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    expect(stdout).toMatch(/SIGINT: stopping broker, feeds, services, traders/)
    expect(stderr).not.toMatch(/stopped unexpectedly/)
    await eventually(() => processesMentioning(`127.0.0.1:${port}`).length === 0 && processesMentioning(`--port ${port}`).length === 0, 10_000, 'every demo process to exit')
  }, 90_000)
})
