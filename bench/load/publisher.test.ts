import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { runLoad } from '../harness/processes.ts'
import type { PublisherConfig, PublisherResult } from './publisher.ts'

/**
 * A stand-in broker that speaks just enough NATS for the publisher (INFO, PONG for each PING)
 * and stops reading for `stallMs` once the publisher has connected: what a broker that cannot
 * keep up, or pushes back, looks like from the publisher's side.
 */
async function stallingServer (stallMs: number): Promise<{ url: string, pubs: () => number, close: () => void }> {
  let pubs = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.write('INFO {"server_id":"stall","max_payload":1048576,"headers":true}\r\n')
    let pubTail = ''
    let pingTail = ''
    let stalled = false
    socket.on('data', (chunk: Buffer) => {
      // Each search starts with the end of the chunk before, one byte shorter than what it
      // looks for: one cut between two chunks is found, and none is counted twice.
      const text = chunk.toString('latin1')
      pubs += countIn(pubTail + text, 'PUB ')
      for (let n = countIn(pingTail + text, 'PING\r\n'); n > 0; n--) socket.write('PONG\r\n')
      pubTail = (pubTail + text).slice(-3)
      pingTail = (pingTail + text).slice(-5)
      if (!stalled && pubs > 0) {
        stalled = true
        socket.pause()
        setTimeout(() => socket.resume(), stallMs)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    url: `nats://127.0.0.1:${port}`,
    pubs: () => pubs,
    close: () => { for (const s of sockets) s.destroy(); server.close() }
  }
}

function countIn (text: string, what: string): number {
  let n = 0
  for (let at = text.indexOf(what); at !== -1; at = text.indexOf(what, at + what.length)) n++
  return n
}

const closers: Array<() => void> = []
afterEach(() => { for (const c of closers.splice(0)) c() })

describe('the suite publisher', () => {
  it('waits for a broker that stops reading, says how long it waited, and still sends every scheduled message', async () => {
    const server = await stallingServer(800)
    closers.push(server.close)
    const config: PublisherConfig = {
      url: server.url,
      subjects: 10,
      tradeRatio: 0.5,
      ratePerSec: 100_000,
      burstEveryMs: 0,
      burstMs: 0,
      burstFactor: 1,
      rampMs: 0,
      payloadBytes: 512,
      durationMs: 1500
    }
    const r = await runLoad<PublisherResult>('publisher.ts', config, undefined).result
    expect(r.published).toBe(r.expected)
    expect(r.expected).toBe(150_000)
    // It waited for most of the stall (the socket buffers took the first part of it).
    expect(r.waitedForBrokerSeconds).toBeGreaterThan(0.3)
    expect(r.waitedForBrokerSeconds).toBeLessThan(1.5)
    // The messages due during the stall went late, and the schedule-based delay shows it.
    expect(r.publishDelayUs.max).toBeGreaterThan(300_000)
    // ... and are told apart: the backlog of the wait is left out of the publisher's own delay.
    expect(r.ownPublishDelayUs.count).toBeGreaterThan(0)
    expect(r.ownPublishDelayUs.count).toBeLessThan(r.publishDelayUs.count)
    expect(r.ownPublishDelayUs.max).toBeLessThan(r.publishDelayUs.max)
    expect(server.pubs()).toBe(r.expected)
  })
})
