/**
 * Micro benchmark of the broker's publish path without sockets: PUB commands are fed to real
 * `Client`s through the parser in 64 KiB chunks, routed, and written to fake transports that
 * act as clients that keep up: each counts the MSG frames written to it and answers every PING
 * with a PONG, as real clients do (the broker's flow control waits for those PONGs; without
 * them every subscriber is conflated after 64 KiB and the benchmark measures conflation).
 * The run fails unless the messages written equal the deliveries the router counted.
 *
 * It reports messages/s, deliveries/s, the process's CPU time per message, JS heap bytes
 * allocated per message (v8.GCProfiler: what each GC found minus what the last left, plus the
 * growth since) and the GC pauses.
 *
 *   node --min-semi-space-size=16 --initial-old-space-size=64 --max-inlined-bytecode-size-cumulative=1840 \
 *     --import tsx bench/micro/publish-path.ts \
 *     [--subscribers 10] [--subject plain] [--history-max-bytes N] [--history-preallocate] [--no-history] [--json]
 *     [--root DIR]
 *
 * The node flags are the broker's (broker/process-settings.ts): without them a growing trade
 * history set off three times as many full collections (reports/broker/history-append.md).
 * `--root` runs another checkout's broker code (the regression gate's reference build).
 */
import net from 'node:net'
import path from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import v8 from 'node:v8'
import { helpText, parseOptions, runMain, type OptionTable } from '../../lib/cli-options.ts'
import type { Client } from '../../broker/client.ts'
import type { Transport } from '../../broker/client-host.ts'
import type * as OptionsModule from '../../broker/options.ts'
import type * as RouterModule from '../../broker/router.ts'
import { FrameScanner } from '../load/frame-scanner.ts'
import { ROOT } from '../harness/processes.ts'
import { importFromCheckout } from '../harness/reference-build.ts'

export const CLI = {
  subscribers: { type: 'integer', default: 10, min: 1, help: 'Subscribing connections (each on <subject>.>)' },
  subjects: { type: 'integer', default: 100, min: 1, help: 'Distinct subjects' },
  messages: { type: 'integer', default: 200_000, min: 1000, help: 'Messages published' },
  payload: { type: 'integer', default: 128, min: 1, help: 'Payload bytes' },
  subject: { type: 'string', default: 'plain', help: 'Subject prefix (quote = last-value, trade = event, other = plain)' },
  perRead: { type: 'integer', default: 0, min: 0, help: 'Messages per socket read (0 = as many as fit 64 KiB)' },
  paceMs: { type: 'integer', default: 0, min: 0, help: 'Wait this long between reads (0 = flat out), to mimic a paced publisher' },
  sockets: { type: 'boolean', default: false, help: 'Also write deliveries to real loopback sockets (read and discarded by this process)' },
  distinctSids: { type: 'boolean', default: false, help: 'Give each subscriber its own sid (default: sid 1 on every connection, as the official clients number them)' },
  historyMaxBytes: { type: 'integer', default: 0, min: 0, help: 'The trade history\'s byte limit (0: the broker\'s default); a small one keeps it full, one removal per append' },
  noHistory: { type: 'boolean', default: false, help: 'Keep no trade history (the broker\'s --history=): the publish path without its store' },
  historyPreallocate: { type: 'boolean', default: false, help: 'Take the history\'s memory at start, as the broker under the suite\'s --broker-cpu does (its --history-preallocate)' },
  maxAckWaitMs: { type: 'integer', default: 60_000, min: 1, help: 'The broker\'s flow-control ack wait: a minute, so that subscribers that keep up are never judged behind by the clock (the broker\'s own default is far shorter)' },
  json: { type: 'boolean', default: false, help: 'Print the result as one JSON line' },
  root: { type: 'string', default: '', help: 'Run the broker code of this checkout (default: this one)' }
} satisfies OptionTable

export interface PublishPathResult {
  messages: number
  deliveries: number
  written: number
  seconds: number
  /** The process's CPU time (user and system, every thread) over the same window. */
  cpuSeconds: number
  heapBytesPerMessage: number
  writesPerDelivery: number
  gc: { count: number, totalMs: number, maxMs: number }
  /** The history's 64 KiB slabs taken before the first message (all of them with --history-preallocate). */
  historySlabsAtStart: number
}

/** A client that keeps up: counts the frames written to it and answers each PING with a PONG. */
class KeepingUpTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  readonly frames = new FrameScanner()
  writes = 0
  client: Client | null = null
  constructor (private readonly socket: net.Socket | null) {}
  write (chunk: Buffer, written?: () => void): void {
    this.writes++
    const pings = this.frames.feed(chunk)
    // Done with the chunk (or the socket is, later): its buffer may serve again, as after a real write.
    if (this.socket === null) written?.()
    else this.socket.write(chunk, written)
    // Answered after this turn, as a client reading the socket would.
    if (pings > 0) setImmediate(() => { for (let i = 0; i < pings; i++) this.client?.receive(Buffer.from('PONG\r\n')) })
  }
  get bufferedBytes (): number { return this.socket?.writableLength ?? 0 }
  close (): void { this.socket?.destroy() }
  pauseReading (): void {}
  resumeReading (): void {}
}

async function socketPair (): Promise<net.Socket> {
  return new Promise((resolve) => {
    const server = net.createServer((serverSide) => { server.close(); resolve(serverSide) })
    server.listen(0, '127.0.0.1', () => {
      const reader = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
      reader.on('data', () => {}) // read and discard, like a subscriber that keeps up
    })
  })
}

/** JS heap bytes allocated between start() and stop(), from the GCs in between. */
function heapAllocationMeter (): { stop: () => number } {
  const profiler = new v8.GCProfiler()
  const startUsed = v8.getHeapStatistics().used_heap_size
  profiler.start()
  return {
    stop () {
      const endUsed = v8.getHeapStatistics().used_heap_size
      const stats = profiler.stop()?.statistics ?? []
      let allocated = 0
      let last = startUsed
      for (const gc of stats) {
        allocated += gc.beforeGC.heapStatistics.usedHeapSize - last
        last = gc.afterGC.heapStatistics.usedHeapSize
      }
      return allocated + endUsed - last
    }
  }
}

export async function runPublishPath (o: ReturnType<typeof parseOptions<typeof CLI>>): Promise<PublishPathResult> {
  const root = o.root === '' ? ROOT : path.resolve(o.root)
  const { Router } = await importFromCheckout<typeof RouterModule>(root, 'broker/router.ts')
  const { resolveOptions } = await importFromCheckout<typeof OptionsModule>(root, 'broker/options.ts')
  // No inbound rate limit: the publisher here reads far past the default's 200,000 msgs/s.
  const history = {
    ...(o.historyMaxBytes > 0 ? { historyMaxBytes: o.historyMaxBytes } : {}),
    ...(o.historyPreallocate ? { historyPreallocate: true } : {}),
    ...(o.noHistory ? { history: [] } : {})
  }
  // The flow window is bytes a reader acknowledged per ms times a quarter of the ack wait: with
  // the broker's 100 ms, code running slowly (a busy machine, code not yet optimised) shrank the
  // keeping-up subscribers' windows and last values were conflated, which this benchmark does
  // not measure. Two CI runs failed so (reports/ci/clean-clone.md); with a minute the window is
  // always the largest and no PING ages past the wait. The check after the run tells if not.
  const router = new Router(resolveOptions({ port: 0, maxInMsgsPerSec: 0, maxAckWaitMs: o.maxAckWaitMs, ...history }))
  // The history's slabs taken so far (a reference build from before they were counted has none).
  const historySlabsAtStart = (router.jetstream?.streamList ?? []).reduce((n, s) => n + (s.slabsAllocated ?? 0), 0)
  // Conflation starts so far (a reference build from before they were counted has none).
  const conflationStarts = (): number => Object.values(router.stats.conflationStarts ?? {}).reduce((a, b) => a + b, 0)
  const sinks: KeepingUpTransport[] = []
  for (let s = 0; s < o.subscribers; s++) {
    const t = new KeepingUpTransport(o.sockets ? await socketPair() : null)
    sinks.push(t)
    const c = router.accept(t, () => 'INFO {}\r\n')
    t.client = c
    c?.receive(Buffer.from(`CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB ${o.subject}.> ${o.distinctSids ? s + 1 : 1}\r\n`))
  }
  const pub = router.accept(new KeepingUpTransport(null), () => 'INFO {}\r\n')
  if (pub === null) throw new Error('no publisher')
  pub.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
  // Pre-encode one round of PUB commands (one per subject), cut into 64 KiB socket-sized chunks
  // of whole rounds, or into reads of `perRead` whole commands (subjects differ in length, so a
  // cut by average size would split a command and the parser would read the next as its payload).
  const payload = 'x'.repeat(o.payload)
  const commands = Array.from({ length: o.subjects }, (_, i) => `PUB ${o.subject}.venue.S${i} ${o.payload}\r\n${payload}\r\n`)
  const round = commands.join('')
  const rounds = Math.max(1, Math.floor(65536 / Buffer.byteLength(round)))
  const perChunk = o.perRead > 0 ? Math.min(o.perRead, o.subjects) : rounds * o.subjects
  const chunk = Buffer.from(o.perRead > 0 ? commands.slice(0, perChunk).join('') : round.repeat(rounds))
  const read = async (messages: number): Promise<number> => {
    let sent = 0
    while (sent < messages) {
      pub.receive(Buffer.from(chunk)) // a fresh buffer per read, as a socket gives
      sent += perChunk
      // let the flush turn run
      await new Promise<void>((resolve) => (o.paceMs > 0 ? setTimeout(resolve, o.paceMs) : setImmediate(resolve)))
    }
    await new Promise<void>((resolve) => setImmediate(resolve))
    return sent
  }
  const writtenNow = (): number => sinks.reduce((n, t) => n + t.frames.messages, 0)
  // Until every delivery counted is written: a subscriber whose window was full waits for its
  // PONG (answered a turn later) before what it holds goes out, and a count taken before that
  // charged the warm-up's frames to the measured run (on Node 22: 6,720 written for 6,400).
  const drained = async (): Promise<void> => {
    for (let turn = 0; writtenNow() < router.stats.deliveries && turn < 10_000; turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  // Warm-up: the JIT settles before anything is counted, and so do the flow windows. Each starts
  // at 64 KiB, about what a subscriber gets in one read (61 KiB here) while the PONG for the read
  // before is still on its way, and grows once the reader has shown its rate over 10 ms; a
  // warm-up short enough (a fast machine) could end before that, so it goes on, a few times at
  // most, until a whole round of it starts no conflation.
  for (let round = 0; round < 5; round++) {
    const before = conflationStarts()
    await read(Math.min(o.messages, 20_000))
    await drained()
    if (conflationStarts() === before) break
  }
  const deliveries0 = router.stats.deliveries
  const written0 = writtenNow()
  const writes0 = sinks.reduce((n, t) => n + t.writes, 0)
  const conflationStarts0 = conflationStarts()

  const gc = { count: 0, totalMs: 0, maxMs: 0 }
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(
      gc.maxMs,
      e.duration
    ) }
  })
  obs.observe({ entryTypes: ['gc'] })
  const heap = heapAllocationMeter()
  const start = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  const sent = await read(o.messages)
  await drained()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpuStart)
  const allocated = heap.stop()
  obs.disconnect()
  const deliveries = router.stats.deliveries - deliveries0
  const written = writtenNow() - written0
  const writes = sinks.reduce((n, t) => n + t.writes, 0) - writes0
  for (const t of sinks) t.close()
  const conflated = conflationStarts() - conflationStarts0
  if (conflated > 0) {
    throw new Error(`subscribers that keep up were conflated ${conflated} times in the measured run: it measured conflation, not the publish path`)
  }
  if (written !== deliveries || deliveries !== sent * o.subscribers) {
    throw new Error(`${sent} messages to ${o.subscribers} subscribers: ${deliveries} deliveries counted, ${written} written; the method is broken`)
  }
  return {
    messages: sent,
    deliveries,
    written,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    heapBytesPerMessage: allocated / sent,
    writesPerDelivery: writes / Math.max(1, deliveries),
    gc,
    historySlabsAtStart
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(async () => {
    const o = parseOptions(process.argv.slice(2), CLI)
    if (o.help) { process.stdout.write(helpText('npx tsx bench/micro/publish-path.ts', 'Publish path without sockets: throughput, heap allocated per message and GC pauses.', CLI)); return }
    const r = await runPublishPath(o)
    if (o.json) { process.stdout.write(`${JSON.stringify(r)}\n`); return }
    process.stdout.write(`${r.messages.toLocaleString('en-US')} msgs to ${o.subscribers} subscribers in ${r.seconds.toFixed(2)} s: ` +
      `${Math.round(r.messages / r.seconds).toLocaleString('en-US')} msgs/s, ${Math.round(r.deliveries / r.seconds).toLocaleString('en-US')} deliveries/s, ` +
      `all ${r.written.toLocaleString('en-US')} written, writes/delivery ${r.writesPerDelivery.toFixed(4)}\n` +
      `CPU: ${r.cpuSeconds.toFixed(2)} s, ${Math.round(r.cpuSeconds / r.messages * 1e9)} ns per message\n` +
      `heap allocated: ${Math.round(r.heapBytesPerMessage)} B per message\n` +
      `GC: ${r.gc.count} pauses, total ${r.gc.totalMs.toFixed(0)} ms (${(r.gc.totalMs / 10 / r.seconds).toFixed(1)}% of run), longest ${r.gc.maxMs.toFixed(1)} ms\n`)
  })
}
