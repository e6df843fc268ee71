/**
 * Last values on ever new subjects, published as fast as one connection can, while SLOW
 * subscribers to `quote.>` never read: what the broker holds for them, and how they are cut.
 * Used by reports/broker/last-value-sprawl.md (through sprawl.sh, which starts the broker):
 *   node --import tsx reports/broker/last-value-sprawl/probe.ts <nats port> <monitor port> <broker pid> [slow] [seconds]
 * Prints, each second: published, the broker's RSS, the most bytes held for one connection
 * (`/connz` pending_bytes), its slow-consumer count; then the peaks and what each slow subscriber
 * was told when it read at the end.
 */
import net from 'node:net'
import { readFileSync } from 'node:fs'

const [port, httpPort, pid, slowCount = 20, seconds = 15] = process.argv.slice(2).map(Number)
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

async function connect (): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port as number, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

const slow: Array<{ socket: net.Socket, told: Buffer[] }> = []
for (let i = 0; i < (slowCount as number); i++) {
  const socket = await connect()
  socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nSUB quote.> 1\r\n')
  socket.pause() // never reads until the end
  socket.on('error', () => {})
  slow.push({ socket, told: [] })
}
const pub = await connect()
pub.on('data', () => {})
pub.on('error', () => {})
pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n')

// A batch of BATCH publishes on subjects quote.S<9 digits>, 64 B each: a template copied per
// batch with each subject's digits written in place (a string per message held the publisher to
// about 60,000 msgs/s, below the broker).
const BATCH = 500
const LINE = Buffer.from(`PUB quote.S000000000 64\r\n${'x'.repeat(64)}\r\n`, 'latin1')
const DIGITS_AT = LINE.indexOf('S') + 1
const TEMPLATE = Buffer.concat(Array.from({ length: BATCH }, () => LINE))
function batch (): Buffer {
  const out = Buffer.allocUnsafe(TEMPLATE.length)
  TEMPLATE.copy(out)
  for (let i = 0; i < BATCH; i++) {
    let n = published++
    for (let d = DIGITS_AT + i * LINE.length + 8; d >= DIGITS_AT + i * LINE.length; d--) { out[d] = 48 + (n % 10); n = Math.floor(n / 10) }
  }
  return out
}
const started = Date.now()
const end = started + (seconds as number) * 1000
let published = 0
let peak = 0
let peakPending = 0
const sample = setInterval(() => {
  void (async () => {
    const rss = rssMiB()
    peak = Math.max(peak, rss)
    const varz = await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json() as { slow_consumers: number }
    const connz = await (await fetch(`http://127.0.0.1:${httpPort}/connz`)).json() as { connections: Array<{ pending_bytes: number }> }
    const pending = Math.max(0, ...connz.connections.map((c) => c.pending_bytes)) / 1024 / 1024
    peakPending = Math.max(peakPending, pending)
    console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: published ${published}, broker RSS ${rss.toFixed(0)} MiB, ` +
      `most held for one connection ${pending.toFixed(1)} MiB, slow consumers cut ${varz.slow_consumers}`)
  })()
}, 1000)

function pump (): void {
  while (Date.now() < end) {
    if (!pub.write(batch())) { pub.once('drain', pump); return }
  }
  setTimeout(finish, 1500)
}

async function finish (): Promise<void> {
  clearInterval(sample)
  console.log(`peak broker RSS ${peak.toFixed(0)} MiB; most held for one connection ${peakPending.toFixed(1)} MiB; ${published} subjects published in ${seconds} s`)
  const reasons = new Map<string, number>()
  await Promise.all(slow.map(async ({ socket, told }) => {
    socket.on('data', (chunk: Buffer) => told.push(chunk.subarray(-300)))
    socket.resume()
    await new Promise((resolve) => { socket.once('close', resolve); setTimeout(resolve, 5000) })
    const tail = Buffer.concat(told).toString('latin1')
    const err = /-ERR '[^']*'/.exec(tail)?.[0] ?? (socket.destroyed ? 'closed, no -ERR' : 'still open')
    reasons.set(err, (reasons.get(err) ?? 0) + 1)
    socket.destroy()
  }))
  for (const [reason, n] of reasons) console.log(`slow subscribers told ${reason}: ${n}`)
  pub.destroy()
}

pump()
