/**
 * A flood of connections past the process's open-file limit (`prlimit`, as `ulimit -n` would set
 * it). Past that limit the kernel refuses accept() and libuv closes the waiting connections
 * itself, so a client used to be cut off without a word and the broker logged nothing. The
 * broker now lowers its connection limit under the file limit at start, saying so, and every
 * client past it is told `-ERR 'maximum connections exceeded'` (lib/open-files.ts).
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBrokerCommand, type BrokerCommand } from './test-support/processes.ts'

const FILE_LIMIT = 200
const LOWERED = /max_connections lowered from 1000 \(asked for\) to (\d+): this process may open 200 files/

type Outcome = 'served' | 'refused' | 'cut off'

/**
 * Connects; 'served' once a PING after CONNECT is answered, 'refused' on the limit's -ERR,
 * 'cut off' on a close without it.
 */
async function outcomeOf (port: number, sockets: net.Socket[]): Promise<Outcome> {
  const socket = net.connect(port, '127.0.0.1')
  sockets.push(socket)
  let text = ''
  return await new Promise<Outcome>((resolve) => {
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.includes("-ERR 'maximum connections exceeded'\r\n")) resolve('refused')
      else if (text.includes('PONG\r\n')) resolve('served')
      else if (text.startsWith('INFO ') && text.includes('\r\n')) socket.write('CONNECT {"verbose":false}\r\nPING\r\n')
    })
    socket.once('close', () => resolve(text.includes("-ERR 'maximum connections exceeded'") ? 'refused' : 'cut off'))
  })
}

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
    const outcomes: Outcome[] = []
    try {
      // In batches, as a flood of clients arrives over time; the served stay connected throughout.
      for (let done = 0; done < limit + extra; done += 20) {
        const batch = Math.min(20, limit + extra - done)
        const arrivals = Array.from({ length: batch }, async () => await outcomeOf(started.port, sockets))
        outcomes.push(...await Promise.all(arrivals))
      }
      const count = (o: Outcome): number => outcomes.filter((x) => x === o).length
      expect({ served: count('served'), refused: count('refused'), cutOff: count('cut off') })
        .toEqual({ served: limit, refused: extra, cutOff: 0 })
      // One line for the flood, not one per refusal.
      expect(started.broker.output().match(/connection refused: maximum connections reached/g)).toHaveLength(1)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
    // Once they are gone (the broker sees each close as it comes), a new client is served again.
    let again: Outcome = 'refused'
    for (const deadline = Date.now() + 5000; again === 'refused' && Date.now() < deadline;) {
      again = await outcomeOf(started.port, sockets)
    }
    for (const socket of sockets) socket.destroy()
    expect(again).toBe('served')
  })
})
