/**
 * A TCP proxy that can cut its clients off: what a network outage looks like to a client
 * (bench:faults' subscriber outage, the trade-history tests). Forwards every connection to
 * `targetPort` on 127.0.0.1; `cut(ms)` drops every open connection and refuses new ones (closed
 * as soon as they are accepted) for `ms`.
 */
import net from 'node:net'
import { listenTcp } from './ports.ts'

export interface TcpProxy {
  readonly port: number
  /** Connections forwarded so far. */
  readonly connections: number
  /** Drops every connection now and refuses new ones for `ms`; resolves when it lets them in again. */
  cut (ms: number): Promise<void>
  close (): Promise<void>
}

export async function startTcpProxy (targetPort: number, port = 0): Promise<TcpProxy> {
  const open = new Set<net.Socket>()
  let refusingUntil = 0
  let connections = 0
  const server = net.createServer((client) => {
    if (Date.now() < refusingUntil) { client.destroy(); return }
    connections++
    const upstream = net.connect(targetPort, '127.0.0.1')
    open.add(client)
    open.add(upstream)
    const drop = (): void => {
      client.destroy()
      upstream.destroy()
      open.delete(client)
      open.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  const bound = await listenTcp(server, port, '127.0.0.1')
  return {
    port: bound,
    get connections () { return connections },
    async cut (ms) {
      refusingUntil = Date.now() + ms
      for (const s of [...open]) s.destroy()
      open.clear()
      await new Promise((resolve) => setTimeout(resolve, ms))
    },
    async close () {
      for (const s of [...open]) s.destroy()
      await new Promise((resolve) => { server.close(resolve) })
    }
  }
}
