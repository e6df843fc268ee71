/**
 * TLS on the NATS TCP port (INFO in plain text, then the client's handshake) and on the
 * WebSocket port (wss), with a certificate this test makes: one broker, and two workers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import tls from 'node:tls'
import { connect } from '@nats-io/transport-node'
import selfsigned from 'selfsigned'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startBrokerCommand } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { startTickfan } from './test-support/targets.ts'

/** A self-signed certificate for localhost and 127.0.0.1, valid for a day. */
async function certificate (): Promise<{ cert: string, private: string }> {
  return await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    notAfterDate: new Date(Date.now() + 86_400_000),
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }]
  })
}

interface TlsTarget { port: number, natsUrl: string, wsUrl: string, stop: () => Promise<unknown> }

const STARTS: Array<[string, (pems: { cert: string, private: string }) => Promise<TlsTarget>]> = [
  ['one broker', async (pems) => {
    const t = await startTickfan({ tls: { cert: pems.cert, key: pems.private } })
    return { port: t.port, natsUrl: t.natsUrl, wsUrl: t.wsUrl as string, stop: t.stop }
  }],
  // Two workers: the primary deals each connection, still plain TCP, to a worker, which does TLS.
  ['npm run broker -- --workers 2', async (pems) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-tls-'))
    writeFileSync(path.join(dir, 'cert.pem'), pems.cert)
    writeFileSync(path.join(dir, 'key.pem'), pems.private)
    const { broker, port, natsUrl, wsUrl } = await startBrokerCommand(['--workers', '2', '--ws-port=0',
      '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')])
    return {
      port,
      natsUrl,
      wsUrl: wsUrl as string,
      stop: async () => { await broker.stop(); rmSync(dir, { recursive: true, force: true }) }
    }
  }]
]

describe.each(STARTS)('TLS, %s', (_name, start) => {
  let target: TlsTarget
  let ca: string
  beforeAll(async () => {
    const pems = await certificate()
    ca = pems.cert
    target = await start(pems)
  }, 40_000)
  afterAll(async () => { await target.stop() })

  it('says tls_required in INFO, and the official client connects, publishes and receives over TLS', async () => {
    const raw = await RawClient.connect(target.port)
    expect(raw.text).toMatch(/"tls_required":true/)
    raw.close()
    const nc = await connect({ servers: target.natsUrl, tls: { ca } })
    const got: string[] = []
    nc.subscribe('hello', { callback: (_e, m) => { got.push(m.string()) } })
    nc.publish('hello', 'over tls')
    await nc.flush()
    await nc.flush()
    expect(got).toEqual(['over tls'])
    await nc.close()
  })

  it('refuses a client that does not trust the certificate', async () => {
    await expect(connect({ servers: target.natsUrl, tls: {}, reconnect: false, timeout: 3000 })).rejects.toThrow(/certificate/i)
  })

  it('closes a client that speaks plain text where TLS is required', async () => {
    const raw = await RawClient.connect(target.port)
    raw.send('CONNECT {}\r\nPING\r\n') // plain text where TLS is required
    await raw.closed
    expect(raw.afterInfo).not.toContain('PONG')
  })

  it('serves NATS over wss', async () => {
    expect(target.wsUrl).toMatch(/^wss:\/\//)
    const ws = new WebSocket(target.wsUrl, { ca })
    const frames: string[] = []
    ws.on('message', (d: Buffer) => {
      frames.push(d.toString())
      if (frames.length === 1) ws.send('CONNECT {"verbose":false}\r\nPING\r\n')
    })
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject)
      const check = setInterval(() => { if (frames.join('').includes('PONG')) { clearInterval(check); resolve() } }, 20)
    })
    expect(frames[0]).toMatch(/^INFO .*"tls_required":true/)
    ws.close()
  })

  it('closes a wss connection that never starts TLS, and one that never upgrades after it, within the connect timeout', async () => {
    const wssPort = Number(new URL(target.wsUrl).port)
    const started = Date.now()
    const silent = net.connect(wssPort, '127.0.0.1')
    silent.on('error', () => {})
    const secure = tls.connect({ port: wssPort, host: '127.0.0.1', ca, servername: 'localhost' })
    let told = ''
    secure.on('data', (d: Buffer) => { told += d.toString('latin1') })
    secure.on('error', () => {})
    const closedAt = async (socket: net.Socket): Promise<number> => await new Promise((resolve) => socket.once('close', () => resolve(Date.now() - started)))
    const [silentMs, secureMs] = await Promise.all([closedAt(silent), closedAt(secure)])
    // The default connect timeout is 2 s; Node's own limits are 120 s for a TLS handshake and none for a silent socket.
    expect(silentMs).toBeLessThan(10_000)
    expect(secureMs).toBeLessThan(10_000)
    expect(told).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
  })
})

describe('TLS on the WebSocket port, at the connection limit', () => {
  let target: Awaited<ReturnType<typeof startTickfan>>
  let ca: string
  beforeAll(async () => {
    const pems = await certificate()
    ca = pems.cert
    // A long connect timeout: what closes a socket within the test is the limit alone.
    target = await startTickfan({
      tls: { cert: pems.cert, key: pems.private },
      maxConnections: 3,
      connectTimeoutMs: 20_000
    })
  }, 40_000)
  afterAll(async () => { await target.stop() })

  it('counts a wss connection from its TCP connection: past the limit, one that never begins TLS is closed at once', async () => {
    const wssPort = Number(new URL(target.wsUrl).port)
    const open = async (): Promise<{ socket: net.Socket, closed: Promise<void> }> => {
      const socket = net.connect(wssPort, '127.0.0.1')
      socket.on('error', () => {})
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      return { socket, closed }
    }
    const held = [await open(), await open(), await open()]
    const past = await open()
    // Before, a handshake not begun was not counted: this one was held for the connect timeout.
    const closedInTime = await Promise.race([past.closed.then(() => true), delay(10_000).then(() => false)])
    expect(closedInTime).toBe(true)
    // The three within the limit are still held; once they go, a real wss client is served.
    const anyClosed = Promise.any(held.map(async (h) => await h.closed)).then(() => false)
    const stillOpen = await Promise.race([anyClosed, delay(200).then(() => true)])
    expect(stillOpen).toBe(true)
    for (const h of held) h.socket.destroy()
    await Promise.all(held.map(async (h) => await h.closed))
    const ws = new WebSocket(target.wsUrl, { ca })
    const info = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d: Buffer) => { resolve(d.toString()) })
      ws.once('error', reject)
    })
    expect(info).toMatch(/^INFO /)
    ws.close()
  })
})
