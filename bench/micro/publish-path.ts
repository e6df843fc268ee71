/**
 * Micro benchmark of the broker's publish path without sockets: PUB commands are fed to real
 * `Client`s through the parser in 64 KiB chunks, routed, and written to fake transports that
 * discard the bytes. It reports messages/s, deliveries/s and, because GC pauses are what made
 * the fast subscriber's p99 in `npm run bench:broker`, the count, total and longest GC pause.
 *
 *   npx tsx bench/micro/publish-path.ts [--subscribers 2] [--subjects 100] [--messages 400000]
 */
import net from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import { helpText, parseOptions, runMain, type OptionTable } from '../../broker/cli-options.ts'
import type { Transport } from '../../broker/client.ts'
import { resolveOptions } from '../../broker/options.ts'
import { Router } from '../../broker/router.ts'

const CLI = {
  subscribers: { type: 'integer', default: 2, min: 1, help: 'Subscribing connections (each on quote.>)' },
  subjects: { type: 'integer', default: 100, min: 1, help: 'Distinct quote subjects' },
  messages: { type: 'integer', default: 400_000, min: 1000, help: 'Messages published' },
  payload: { type: 'integer', default: 128, min: 1, help: 'Payload bytes' },
  subject: { type: 'string', default: 'quote', help: 'Subject prefix (quote = last-value, trade = event, other = plain)' },
  perRead: { type: 'integer', default: 0, min: 0, help: 'Messages per socket read (0 = as many as fit 64 KiB)' },
  paceMs: { type: 'integer', default: 0, min: 0, help: 'Wait this long between reads (0 = flat out), to mimic a paced publisher' },
  sockets: { type: 'boolean', default: false, help: 'Write deliveries to real loopback sockets (read and discarded by this process)' }
} satisfies OptionTable

class SocketTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  bytes = 0
  writes = 0
  constructor (private readonly socket: net.Socket) {}
  write (chunk: Buffer): void { this.bytes += chunk.length; this.writes++; this.socket.write(chunk) }
  get bufferedBytes (): number { return this.socket.writableLength }
  close (): void { this.socket.destroy() }
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

class NullTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  bytes = 0
  writes = 0
  write (chunk: Buffer): void { this.bytes += chunk.length; this.writes++ }
  get bufferedBytes (): number { return 0 }
  close (): void {}
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npx tsx bench/micro/publish-path.ts', 'Publish path without sockets: throughput and GC pauses.', CLI)); return }
  const router = new Router(resolveOptions({ port: 0 }))
  const sinks: Array<NullTransport | SocketTransport> = []
  for (let s = 0; s < o.subscribers; s++) {
    const t = o.sockets ? new SocketTransport(await socketPair()) : new NullTransport()
    sinks.push(t)
    const c = router.accept(t, () => 'INFO {}\r\n')
    c?.receive(Buffer.from(`CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB ${o.subject}.> ${s + 1}\r\n`))
  }
  const pub = router.accept(new NullTransport(), () => 'INFO {}\r\n')
  if (pub === null) throw new Error('no publisher')
  pub.receive(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n'))
  // Pre-encode one round of PUB commands (one per subject), cut into 64 KiB socket-sized chunks.
  const payload = 'x'.repeat(o.payload)
  const round = Buffer.from(Array.from({ length: o.subjects }, (_, i) => `PUB ${o.subject}.venue.S${i} ${o.payload}\r\n${payload}\r\n`).join(''))
  const one = round.length / o.subjects
  const chunk = o.perRead > 0
    ? round.subarray(0, one * Math.min(o.perRead, o.subjects))
    : Buffer.concat(Array.from({ length: Math.max(1, Math.floor(65536 / round.length)) }, () => round))
  const perChunk = Math.round(chunk.length / one)

  const gc = { count: 0, totalMs: 0, maxMs: 0 }
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration) }
  })
  obs.observe({ entryTypes: ['gc'] })
  const start = process.hrtime.bigint()
  let sent = 0
  while (sent < o.messages) {
    pub.receive(Buffer.from(chunk)) // a fresh buffer per read, as a socket gives
    sent += perChunk
    await new Promise<void>((resolve) => (o.paceMs > 0 ? setTimeout(resolve, o.paceMs) : setImmediate(resolve))) // let the flush turn run
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  obs.disconnect()
  const deliveries = router.stats.deliveries
  for (const t of sinks) t.close()
  process.stdout.write(`${sent.toLocaleString('en-US')} msgs in ${seconds.toFixed(2)} s: ${Math.round(sent / seconds).toLocaleString('en-US')} msgs/s, ` +
    `${Math.round(deliveries / seconds).toLocaleString('en-US')} deliveries/s, writes/delivery ${(sinks.reduce((n, t) => n + t.writes, 0) / deliveries).toFixed(4)}\n` +
    `GC: ${gc.count} pauses, total ${gc.totalMs.toFixed(0)} ms (${(gc.totalMs / 10 / seconds).toFixed(1)}% of run), longest ${gc.maxMs.toFixed(1)} ms\n`)
})
