/**
 * The monitoring ports refuse a `Host` that is not this machine's or a listed name (DNS
 * rebinding, lib/allowed-hosts.ts), before credentials are asked for; over real sockets, with
 * the header as a browser would send it. The browser's own case is in dashboard/cross-site.test.ts.
 */
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createClusterMonitor } from './cluster-monitor.ts'
import { startBroker, type RunningBroker } from './server.ts'
import { getWithHost } from './test-support/http-get.ts'

describe('the monitoring port and the Host header', () => {
  let broker: RunningBroker | null = null
  afterEach(async () => { await broker?.close(); broker = null })

  const start = async (options: Parameters<typeof startBroker>[0] = {}): Promise<number> => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: -1, httpPort: 0, logLevel: 'silent', ...options })
    return broker.httpPort
  }

  it('answers addresses and localhost, and refuses another name with the reason and the option', async () => {
    const port = await start()
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await getWithHost(port, '/varz', host)).status, host).toBe(200)
    }
    for (const path of ['/varz', '/connz', '/healthz', '/metrics', '/nowhere']) {
      const refused = await getWithHost(port, path, `evil.example:${port}`)
      expect(refused.status, path).toBe(403)
      expect(JSON.parse(refused.body).error).toBe(`host "evil.example:${port}" is not allowed: this port answers IP addresses, ` +
        'localhost and the names --http-allowed-hosts lists (now none); a guard against DNS rebinding')
    }
    // Still serving what it may.
    expect((await getWithHost(port, '/healthz', `127.0.0.1:${port}`)).status).toBe(200)
  })

  it('answers the names --http-allowed-hosts lists, and any with *', async () => {
    let port = await start({ httpAllowedHosts: ['tickfan.example.com', '.svc.cluster.local'] })
    expect((await getWithHost(port, '/varz', 'TICKFAN.example.com')).status).toBe(200)
    expect((await getWithHost(port, '/varz', `tickfan.monitoring.svc.cluster.local:${port}`)).status).toBe(200)
    expect((await getWithHost(port, '/varz', 'evil.example')).status).toBe(403)
    await broker?.close()
    port = await start({ httpAllowedHosts: ['*'] })
    expect((await getWithHost(port, '/varz', 'evil.example')).status).toBe(200)
  })

  it('refuses the name before asking for credentials', async () => {
    const port = await start({ monitoringAuth: { user: 'ops', password: 'secret' } })
    const authorization = `Basic ${Buffer.from('ops:secret').toString('base64')}`
    expect((await getWithHost(port, '/varz', 'evil.example', { authorization })).status).toBe(403)
    expect((await getWithHost(port, '/varz', 'evil.example')).status).toBe(403) // no 401 prompt for a rebinding page
    expect((await getWithHost(port, '/varz', `127.0.0.1:${port}`)).status).toBe(401)
    expect((await getWithHost(port, '/varz', `127.0.0.1:${port}`, { authorization })).status).toBe(200)
  })

  it('is the same on the primary\'s monitor of several workers', async () => {
    const app = await createClusterMonitor({
      workers: () => [],
      internalAuth: { user: 'internal', password: 'x' },
      auth: null,
      serverId: 'test',
      allowedHosts: ['tickfan.example.com']
    })
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const port = (app.server.address() as AddressInfo).port
      expect((await getWithHost(port, '/healthz', `127.0.0.1:${port}`)).status).toBe(200)
      expect((await getWithHost(port, '/healthz', 'tickfan.example.com')).status).toBe(200)
      expect((await getWithHost(port, '/healthz', 'evil.example')).status).toBe(403)
    } finally {
      await app.close()
    }
  })
})
