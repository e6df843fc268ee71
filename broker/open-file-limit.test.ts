/**
 * A flood of connections past the process's open-file limit (`prlimit`, as `ulimit -n` would set
 * it). Past that limit the kernel refuses accept() and libuv closes the waiting connections
 * itself, so a client used to be cut off without a word and the broker logged nothing. The
 * broker now lowers its connection limit under the file limit at start, saying so, and every
 * client past it is told `-ERR 'maximum connections exceeded'` (lib/open-files.ts).
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { natsFlood, natsOutcome, type Outcome } from './test-support/connection-probes.ts'
import { startBrokerCommand, type BrokerCommand } from './test-support/processes.ts'
import { startTickfan } from './test-support/targets.ts'
import { MAX_LINGERING_CLOSES } from './transports.ts'

const FILE_LIMIT = 200
const LOWERED = /max_connections lowered from 1000 \(asked for\) to (\d+): this process may open 200 files/

describe(`a broker that may open ${FILE_LIMIT} files, flooded with connections`, () => {
  let started: BrokerCommand
  beforeAll(async () => {
    started = await startBrokerCommand(['--workers', '1', '--max-connections', '1000'], { prefix: ['prlimit', `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`, '--'] })
  })
  afterAll(async () => { await started?.broker.stop() })

  it('warns at start that it lowered the connection limit asked for, then serves that many and tells every other client why', async () => {
    const lowered = LOWERED.exec(started.broker.output())
    expect(lowered, started.broker.output()).not.toBeNull()
    const limit = Number(lowered?.[1])
    expect(limit).toBeGreaterThan(0)
    const extra = 40
    const sockets: net.Socket[] = []
    try {
      // In batches, as a flood of clients arrives over time; the served stay connected throughout.
      expect(await natsFlood(started.port, limit + extra, sockets)).toEqual({ served: limit, refused: extra, 'cut off': 0 })
      // One line for the flood, not one per refusal.
      expect(started.broker.output().match(/connection refused: maximum connections reached/g)).toHaveLength(1)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
    // Once they are gone (the broker sees each close as it comes), a new client is served again.
    let again: Outcome = 'refused'
    for (const deadline = Date.now() + 5000; again === 'refused' && Date.now() < deadline;) {
      again = await natsOutcome(started.port, sockets)
    }
    for (const socket of sockets) socket.destroy()
    expect(again).toBe('served')
  })
})

describe('connections refused past the limit that never close their end', () => {
  it(`hold a file each for the close's grace only up to ${MAX_LINGERING_CLOSES} at once`, async () => {
    // A long connect timeout: the one socket holding the only place keeps it throughout.
    const target = await startTickfan({ maxConnections: 1, connectTimeoutMs: 20_000, wsPort: -1, httpPort: -1 })
    const sockets: net.Socket[] = []
    try {
      const holder = net.connect(target.port, '127.0.0.1')
      sockets.push(holder)
      await new Promise((resolve) => holder.once('data', resolve))
      // Refused: told why and sent the server's FIN; they never send theirs (allowHalfOpen).
      const REFUSED = MAX_LINGERING_CLOSES + 16
      const refused = await Promise.all(Array.from({ length: REFUSED }, async () => {
        const socket = net.connect({ port: target.port, host: '127.0.0.1', allowHalfOpen: true })
        sockets.push(socket)
        let told = ''
        socket.on('data', (d: Buffer) => { told += d.toString('latin1') })
        let reset = false
        socket.on('error', () => { reset = true })
        await new Promise((resolve) => socket.once('end', resolve))
        return { socket, told: () => told, reset: () => reset }
      }))
      for (const r of refused) expect(r.told()).toContain("-ERR 'maximum connections exceeded'")
      // Still open on the broker's side, a socket takes more input (and throws it away); one the
      // broker closed answers it with a reset, and the next write fails. Well within the 2 s grace.
      for (let i = 0; i < 2; i++) {
        for (const r of refused) if (!r.reset()) r.socket.write('PING\r\n')
        await new Promise((resolve) => setTimeout(resolve, 150))
      }
      const closedByBroker = refused.filter((r) => r.reset()).length
      // Before, all of them were held for the grace: none was reset.
      expect(closedByBroker).toBeGreaterThanOrEqual(REFUSED - MAX_LINGERING_CLOSES)
    } finally {
      for (const socket of sockets) socket.destroy()
      await target.stop()
    }
  })
})
