/**
 * Ports: binding a server and learning the port it got; on loopback, choosing several free ones
 * at once, and waiting until something listens on one. Used by the broker, the demo (npm start),
 * the benchmarks and the tests.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'

/**
 * The lowest port the kernel hands out to outgoing connections (Linux's ip_local_port_range).
 * A listener on a port in that range can lose it, between being chosen and being bound, to any
 * client's connect: the demo's test once failed with EADDRINUSE that way while other tests ran.
 */
function ephemeralLow (): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 12_000 ? low : 32_768
  } catch {
    return 32_768
  }
}

const BELOW_EPHEMERAL = ephemeralLow()

/** Binds `server` to `port` (0: the kernel picks) on `host`; resolves the port bound, rejects with the bind's error. */
export async function listenTcp (server: net.Server, port: number, host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host }, () => {
      server.off('error', reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })
}

/** Listens on a random port below the ephemeral range; resolves the server, or null if that port was taken. */
async function listenBelowEphemeral (): Promise<net.Server | null> {
  const port = BELOW_EPHEMERAL - 10_000 + Math.floor(Math.random() * 10_000)
  const srv = net.createServer()
  return await new Promise((resolve) => {
    srv.once('error', () => resolve(null))
    srv.listen(port, '127.0.0.1', () => resolve(srv))
  })
}

/**
 * `count` distinct free ports on 127.0.0.1, below the ephemeral range (so no outgoing connection
 * can take one). Every listener stays open until all are chosen, so the same port is never
 * handed out twice.
 */
type Ports<N extends number, Acc extends number[] = []> = Acc['length'] extends N ? Acc : Ports<N, [number, ...Acc]>

export async function freePorts<N extends number> (count: N): Promise<Ports<N>> {
  const servers: net.Server[] = []
  try {
    for (let tries = 0; servers.length < count; tries++) {
      if (tries > 1000) throw new Error(`no ${count} free ports found below ${BELOW_EPHEMERAL}`)
      const srv = await listenBelowEphemeral()
      if (srv !== null) servers.push(srv)
    }
    return servers.map((srv) => (srv.address() as net.AddressInfo).port) as Ports<N>
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))))
  }
}

/**
 * Polls until something listens on 127.0.0.1:`port`. Gives up after `timeoutMs`, or as soon as
 * `abandon` rejects (e.g. the process that should listen exited), with that rejection; either
 * way the polling stops.
 */
export async function waitForPort (port: number, timeoutMs = 10_000, abandon?: Promise<never>): Promise<void> {
  let abandoned = false
  const poll = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (!abandoned) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1')
        s.once('connect', () => { s.destroy(); resolve(true) })
        s.once('error', () => resolve(false))
      })
      if (ok) return
      if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  if (abandon === undefined) return await poll()
  return await Promise.race([poll(), abandon.catch((err: unknown) => { abandoned = true; throw err })])
}
