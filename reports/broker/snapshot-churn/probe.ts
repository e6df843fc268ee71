/**
 * One client against a last-value cache of SUBJECTS subjects: each round publishes a value on a
 * new subject (so the cache's membership changes), subscribes to `quote.>` and unsubscribes
 * again, BATCH rounds in one write, then waits for the PONG of a PING after them; meanwhile another client PINGs every
 * 5 ms and keeps its longest round trip. Used by reports/broker/snapshot-churn.md (through
 * churn.sh, which starts the broker):
 *   node --import tsx reports/broker/snapshot-churn/probe.ts <nats port> <subjects> <seconds> [rounds per write, 10]
 */
import net from 'node:net'

const [port, subjects, seconds, batch = 10] = process.argv.slice(2).map(Number) as [number, number, number, number?]

async function connect (): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}
/** Sends `text` and resolves at the PONG of the PING after it. */
async function roundTrip (s: net.Socket, text = ''): Promise<void> {
  await new Promise<void>((resolve) => {
    let tail = ''
    const on = (d: Buffer): void => {
      const text = tail + d.toString('latin1')
      if (text.includes('PONG\r\n')) { s.off('data', on); resolve() }
      tail = text.slice(-5)
    }
    s.on('data', on)
    s.write(`${text}PING\r\n`)
  })
}

/** Answers the broker's PINGs, as every NATS client does (its flow control waits for them). */
function answerPings (s: net.Socket): void {
  let tail = ''
  s.on('data', (d: Buffer) => {
    const text = tail + d.toString('latin1')
    for (let at = text.indexOf('PING\r\n'); at !== -1; at = text.indexOf('PING\r\n', at + 6)) s.write('PONG\r\n')
    tail = text.slice(-5)
  })
}

const pub = await connect()
pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
for (let i = 0; i < subjects; i += 1000) {
  const lines: string[] = []
  for (let k = i; k < Math.min(subjects, i + 1000); k++) lines.push(`PUB quote.churn.S${k} 2\r\nv0\r\n`)
  await roundTrip(pub, lines.join(''))
}

const churner = await connect()
answerPings(churner)
churner.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
const pinger = await connect()
pinger.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
await roundTrip(pinger)

let rounds = 0
let longest = 0
const end = Date.now() + seconds * 1000
const churn = (async () => {
  while (Date.now() < end) {
    const lines: string[] = []
    for (let k = rounds; k < rounds + batch; k++) lines.push(`PUB quote.churn.new${k} 2\r\nv1\r\nSUB quote.> ${k + 1}\r\nUNSUB ${k + 1}\r\n`)
    await roundTrip(churner, lines.join(''))
    rounds += batch // done: the PONG after them came back
  }
})()
while (Date.now() < end) {
  const t0 = performance.now()
  await roundTrip(pinger)
  longest = Math.max(longest, performance.now() - t0)
  await new Promise((resolve) => setTimeout(resolve, 5))
}
await churn
console.log(`${subjects} cached subjects, ${seconds} s, ${batch} rounds a write: ${rounds} rounds done of PUB on a new subject, SUB quote.>, UNSUB; longest PING round trip of another client ${longest.toFixed(0)} ms`)
for (const s of [pub, churner, pinger]) s.destroy()
