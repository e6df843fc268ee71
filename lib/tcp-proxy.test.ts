import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of closers.splice(0)) await c() })

async function echoServer (): Promise<number> {
  const server = net.createServer((s) => s.pipe(s))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(async () => { await new Promise((resolve) => server.close(resolve)) })
  return (server.address() as net.AddressInfo).port
}

async function roundTrip (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text))
    let got = ''
    s.on('data', (d) => { got += d.toString(); if (got.length >= text.length) { s.destroy(); resolve(got) } })
    s.on('close', () => resolve(got))
    s.on('error', reject)
  })
}

describe('startTcpProxy', () => {
  let proxy: TcpProxy
  it('forwards, drops open connections on a cut, refuses new ones during it, and lets them in after', async () => {
    proxy = await startTcpProxy(await echoServer())
    closers.push(() => proxy.close())
    expect(await roundTrip(proxy.port, 'hello')).toBe('hello')
    const held = net.connect(proxy.port, '127.0.0.1')
    await new Promise((resolve) => held.once('connect', resolve))
    await new Promise((resolve) => setTimeout(resolve, 20)) // the proxy has accepted it
    const closed = new Promise((resolve) => held.once('close', resolve))
    const cut = proxy.cut(300)
    await closed
    expect(await roundTrip(proxy.port, 'during')).toBe('')
    await cut
    expect(await roundTrip(proxy.port, 'after')).toBe('after')
    expect(proxy.connections).toBe(3)
  })
})
