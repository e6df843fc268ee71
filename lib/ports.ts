/**
 * Loopback ports: choosing several free ones at once, and waiting until something listens on
 * one. Used by the demo (npm start), the benchmarks and the tests.
 */
import net from 'node:net'

/**
 * `count` distinct free ports on 127.0.0.1. Every listener stays open until all are chosen, so the
 * kernel cannot hand the same ephemeral port out twice (asking one at a time sometimes did).
 */
type Ports<N extends number, Acc extends number[] = []> = Acc['length'] extends N ? Acc : Ports<N, [number, ...Acc]>

export async function freePorts<N extends number> (count: N): Promise<Ports<N>> {
  const servers: net.Server[] = []
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer()
      servers.push(srv)
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(0, '127.0.0.1', () => resolve())
      })
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
