/**
 * A worker that falls far behind its peers (here: stopped with SIGSTOP while another worker's
 * publisher goes on) is a slow consumer of the mesh: nothing is lost silently. When it catches
 * up, its subscribers that missed trades are closed with the slow-consumer reason, and its
 * quote subscribers get the newest value of every quote; the link's memory stayed bounded.
 * The same holds for a worker's own publishes on their way back to its own subscribers (the
 * loopback), which were dropped without a word past the limit.
 */
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBrokerCommand, type CommandProcess } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { eventually } from './test-support/targets.ts'

const LIMIT = 256 * 1024

/** An HPUB of `subject` whose value is `payload` at Tickfan-Seq `seq`. */
function quote (subject: string, seq: number, payload: string): string {
  const headers = `NATS/1.0\r\nTickfan-Seq: ${seq}\r\n\r\n`
  return `HPUB ${subject} ${headers.length} ${headers.length + payload.length}\r\n${headers}${payload}\r\n`
}

/** A raw client on the given worker of the broker at `port` (connections are dealt round-robin). */
async function clientOnWorker (port: number, worker: number): Promise<RawClient> {
  for (let tries = 0; tries < 10; tries++) {
    const raw = await RawClient.connect(port)
    if (raw.text.includes(`W${worker}"`)) { await raw.handshake(); return raw }
    raw.close()
  }
  throw new Error(`no connection landed on worker ${worker}`)
}

describe('a worker that falls behind on the mesh', () => {
  let broker: CommandProcess
  let port: number
  let httpUrl: string
  beforeAll(async () => {
    const started = await startBrokerCommand(['--workers', '2', '--http-port=0', '--mesh-max-queued-bytes', String(LIMIT)])
    broker = started.broker
    port = started.port
    httpUrl = started.httpUrl as string
  }, 40_000)
  afterAll(async () => { await broker.stop('SIGINT') })

  const onWorker = async (worker: number): Promise<RawClient> => await clientOnWorker(port, worker)

  function workerPid (index: number): number {
    const pids = execFileSync('pgrep', ['-P', String(broker.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    const pid = pids.find((p) => { try { return execFileSync('cat', [`/proc/${p}/environ`], { encoding: 'latin1' }).includes(`TICKFAN_WORKER_INDEX=${index}\0`) } catch { return false } })
    if (pid === undefined) throw new Error(`worker ${index} not found`)
    return pid
  }

  /** Sends `batch(round)` for each round, each after the last one's PONG, while worker 1 is stopped. */
  async function publishWhileStopped (
    publisher: RawClient, rounds: number, batch: (round: number) => string
  ): Promise<void> {
    const victim = workerPid(1)
    process.kill(victim, 'SIGSTOP')
    try {
      for (let round = 1; round <= rounds; round++) {
        publisher.send(batch(round))
        await publisher.roundTrip()
      }
    } finally {
      process.kill(victim, 'SIGCONT')
    }
  }

  it('conflates its last values, closes the subscribers who missed trades with the slow-consumer reason, and loses nothing silently', async () => {
    const quotes = await onWorker(1)
    const trades = await onWorker(1)
    quotes.send('SUB quote.mesh.> 1\r\n')
    trades.send('SUB trade.mesh.> 1\r\n')
    await quotes.roundTrip()
    await trades.roundTrip()
    const publisher = await onWorker(0)
    // Far more than the link may hold: 100 quote subjects updated 40 times, and trades.
    const payload = 'x'.repeat(2000)
    await publishWhileStopped(publisher, 40, (round) => {
      let batch = ''
      for (let s = 0; s < 100; s++) batch += quote(`quote.mesh.S${s}`, round, payload)
      for (let t = 0; t < 20; t++) batch += `PUB trade.mesh.T ${payload.length}\r\n${payload}\r\n`
      return batch
    })
    // The trade subscriber learns why it is cut off; the quote subscriber stays and holds the newest values.
    await trades.waitFor(/-ERR 'Slow Consumer: this worker fell behind its peers and missed event messages'/, 10_000)
    await trades.closed
    await eventually(() => {
      const newest = new Map<string, number>()
      for (const m of quotes.text.matchAll(/HMSG (quote\.mesh\.S\d+) 1 \d+ \d+\r\nNATS\/1\.0\r\nTickfan-Seq: (\d+)/g)) newest.set(m[1] as string, Number(m[2]))
      return newest.size === 100 && [...newest.values()].every((seq) => seq === 40)
    }, 10_000, 'the newest value of every quote')
    expect(quotes.isClosed).toBe(false)
    const varz = await (await fetch(`${httpUrl}/varz`)).json() as { tickfan: { worker_links: { linksBehind: number, conflatedMsgs: number, droppedMsgs: number, closedForMissedEvents: number } } }
    const links = varz.tickfan.worker_links
    expect(links.linksBehind).toBeGreaterThanOrEqual(1)
    expect(links.conflatedMsgs).toBeGreaterThan(0)
    expect(links.droppedMsgs).toBeGreaterThan(0)
    expect(links.closedForMissedEvents).toBe(1)
    quotes.close()
    publisher.close()
  }, 60_000)

  it('holds values past the byte limit by subject, not by frame, and sends each from the cache when the worker catches up', async () => {
    const links = async (): Promise<{ heldValuesPastLimit: number, resentFromCache: number }> =>
      ((await (await fetch(`${httpUrl}/varz`)).json()) as { tickfan: { worker_links: { heldValuesPastLimit: number, resentFromCache: number } } }).tickfan.worker_links
    const newestOf = (text: string): Map<string, number> => {
      const newest = new Map<string, number>()
      for (const m of text.matchAll(/HMSG (quote\.held\.S\d+) 1 \d+ \d+\r\nNATS\/1\.0\r\nTickfan-Seq: (\d+)/g)) newest.set(m[1] as string, Number(m[2]))
      return newest
    }
    const SUBJECTS = 400 // their newest frames come to about three times the limit
    const allNewest = (text: string): boolean => {
      const newest = newestOf(text)
      return newest.size === SUBJECTS && [...newest.values()].every((seq) => seq === 3)
    }
    const before = await links()
    const quotes = await onWorker(1)
    quotes.send('SUB quote.held.> 1\r\n')
    await quotes.roundTrip()
    const publisher = await onWorker(0)
    const payload = 'y'.repeat(2000)
    await publishWhileStopped(publisher, 3, (round) => {
      let batch = ''
      for (let s = 0; s < SUBJECTS; s++) batch += quote(`quote.held.S${s}`, round, payload)
      return batch
    })
    await eventually(() => allNewest(quotes.text), 10_000, 'the newest value of every quote, live')
    expect(quotes.isClosed).toBe(false)
    // And both workers' caches hold the newest: what a new subscriber gets anywhere.
    for (const worker of [0, 1]) {
      const late = await onWorker(worker)
      late.send('SUB quote.held.> 1\r\n')
      await eventually(() => allNewest(late.text), 10_000, `the newest value of every quote in worker ${worker}'s snapshot`)
      late.close()
    }
    const after = await links()
    expect(after.heldValuesPastLimit).toBeGreaterThan(before.heldValuesPastLimit)
    expect(after.resentFromCache).toBeGreaterThan(before.resentFromCache)
    quotes.close()
    publisher.close()
  }, 60_000)
})

describe("a worker's own publishes past the link limit, on their way back to its subscribers (the loopback)", () => {
  let broker: CommandProcess
  let port: number
  beforeAll(async () => {
    // 16 KiB: one 64 KiB read of publishes puts the loopback past it.
    const started = await startBrokerCommand(['--workers', '2', '--mesh-max-queued-bytes', '16384'])
    broker = started.broker
    port = started.port
  }, 40_000)
  afterAll(async () => { await broker.stop('SIGINT') })

  it('closes the subscribers who missed trades, saying so, and delivers the newest value of every quote', async () => {
    const trades = await clientOnWorker(port, 0)
    const quotes = await clientOnWorker(port, 0)
    trades.send('SUB trade.loop.> 1\r\n')
    quotes.send('SUB quote.loop.> 1\r\n')
    await trades.roundTrip()
    await quotes.roundTrip()
    const publisher = await clientOnWorker(port, 0)
    const payload = 'z'.repeat(2000)
    let batch = ''
    for (let i = 1; i <= 200; i++) {
      batch += `PUB trade.loop.T ${payload.length}\r\n${payload}\r\n`
      batch += quote(`quote.loop.S${i % 50}`, i, payload)
    }
    publisher.send(batch)
    await publisher.roundTrip()
    // Before, some of the trades were dropped and the subscriber was never told.
    await trades.waitFor(/-ERR 'Slow Consumer: this worker fell behind on its own publishes and missed event messages'/, 10_000)
    await trades.closed
    await eventually(() => {
      const newest = new Map<string, number>()
      for (const m of quotes.text.matchAll(/HMSG (quote\.loop\.S\d+) 1 \d+ \d+\r\nNATS\/1\.0\r\nTickfan-Seq: (\d+)/g)) newest.set(m[1] as string, Number(m[2]))
      return newest.size === 50 && [...newest].every(([subject, seq]) => seq === 150 + (Number(subject.slice('quote.loop.S'.length)) || 50))
    }, 10_000, 'the newest value of every quote')
    expect(quotes.isClosed).toBe(false)
    quotes.close()
    publisher.close()
  }, 60_000)
})
