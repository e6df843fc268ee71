/**
 * GET /lvc of a full last-value cache while a client measures the broker's round trips:
 * how long the request takes, how big the answer is, and how long the broker stops answering
 * everyone else. Used by reports/broker/monitor-lvc.md (through lvc.sh, which starts the broker):
 *   node --import tsx reports/broker/monitor-lvc/probe.ts <nats port> <monitor port> <broker pid> <subjects> <payload bytes> [query]
 */
import net from 'node:net'
import { readFileSync } from 'node:fs'

const [port, httpPort, pid, subjects, payloadBytes] = process.argv.slice(2, 7).map(Number) as [number, number, number, number, number]
const query = process.argv[7] ?? 'subject=%3E'
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

async function connect (): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}
/** Resolves when `socket` has received `n` PONGs since the call. */
function pongs (socket: net.Socket, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const on = (chunk: Buffer): void => {
      seen += chunk.toString('latin1').split('PONG\r\n').length - 1
      if (seen >= n) { socket.off('data', on); resolve() }
    }
    socket.on('data', on)
  })
}

// Fill the cache: `subjects` last values of `payloadBytes` each, then a PING to know they are in.
const pub = await connect()
pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
const body = 'x'.repeat(payloadBytes)
for (let i = 0; i < subjects; i += 100) {
  const lines: string[] = []
  for (let k = i; k < Math.min(subjects, i + 100); k++) lines.push(`PUB quote.lvc.S${k} ${payloadBytes}\r\n${body}\r\n`)
  if (!pub.write(lines.join(''))) await new Promise((resolve) => pub.once('drain', resolve))
}
const filled = pongs(pub, 1)
pub.write('PING\r\n')
await filled
const before = rssMiB()

// A client that PINGs every 5 ms and keeps the longest round trip.
const pinger = await connect()
pinger.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
let longest = 0
let pinging = true
const pingLoop = (async () => {
  while (pinging) {
    const t0 = performance.now()
    const pong = pongs(pinger, 1)
    pinger.write('PING\r\n')
    await pong
    longest = Math.max(longest, performance.now() - t0)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
})()
await new Promise((resolve) => setTimeout(resolve, 200))
longest = 0
let peak = rssMiB()
const sampler = setInterval(() => { peak = Math.max(peak, rssMiB()) }, 20)
const t0 = performance.now()
const res = await fetch(`http://127.0.0.1:${httpPort}/lvc?${query}`)
const text = await res.text()
const took = performance.now() - t0
clearInterval(sampler)
await new Promise((resolve) => setTimeout(resolve, 100))
pinging = false
await pingLoop
let summary = ''
try {
  const json = JSON.parse(text) as Record<string, unknown>
  summary = Object.entries(json).filter(([k]) => k !== 'values').map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ') +
    `, values ${(json.values as unknown[] | undefined)?.length ?? '-'}`
} catch { summary = text.slice(0, 200) }
console.log(`${subjects} subjects of ${payloadBytes} B, GET /lvc?${query}: status ${res.status}, ${(text.length / 1024 / 1024).toFixed(1)} MiB in ${took.toFixed(0)} ms; ` +
  `longest PING round trip meanwhile ${longest.toFixed(0)} ms; broker RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; ${summary}`)
pub.destroy()
pinger.destroy()
