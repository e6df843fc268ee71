/**
 * TLS on the NATS TCP port (INFO in plain text, then the client's handshake) and on the
 * WebSocket port (wss), with a certificate this test makes.
 */
import { connect } from '@nats-io/transport-node'
import selfsigned from 'selfsigned'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { RawClient } from './test-support/raw-client.ts'
import { startTickfan, type Target } from './test-support/targets.ts'

describe('TLS', () => {
  let target: Target
  let ca: string
  beforeAll(async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      notAfterDate: new Date(Date.now() + 86_400_000),
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }]
    })
    ca = pems.cert
    target = await startTickfan({ tls: { cert: pems.cert, key: pems.private } })
  })
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
})
