/**
 * CHURNERS clients against a last-value cache of SUBJECTS subjects that entered in no order (as
 * a market's symbols do): each round, each churner publishes 1,100 values on new subjects (more
 * than the 1,024 membership changes a kept list is brought up to date by, so the next list is
 * computed afresh), subscribes to `quote.>` and unsubscribes again, then waits for the PONG of a
 * PING after them. Meanwhile another client PINGs every 5 ms and keeps its round trips. Used by
 * reports/broker/snapshot-churn.md, "Many connections" (through many.sh, which starts the broker):
 *   node --import tsx reports/broker/snapshot-churn/many.ts <nats port> <subjects> <seconds> <churners>
 * With SUBS=0 in the environment the churners only publish: the same load without the lists.
 */
import net from 'node:net'

const [port, subjects, seconds, churners] = process.argv.slice(2).map(Number) as [number, number, number, number]
const NEW_SUBJECTS_A_ROUND = 1100
const subscribing = process.env.SUBS !== '0'

async function connect (): Promise<net.Socket> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
  s.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
  return s
}

/** Sends `text` and resolves at the PONG of the PING after it; answers the broker's PINGs meanwhile. */
async function roundTrip (s: net.Socket, text = ''): Promise<void> {
  await new Promise<void>((resolve) => {
    let tail = ''
    const on = (d: Buffer): void => {
      const got = tail + d.toString('latin1')
      for (let at = got.indexOf('PING\r\n'); at !== -1; at = got.indexOf('PING\r\n', at + 6)) s.write('PONG\r\n')
      if (got.includes('PONG\r\n')) { s.off('data', on); resolve() }
      tail = got.slice(-5)
    }
    s.on('data', on)
    s.write(`${text}PING\r\n`)
  })
}

/** A subject name no other has, in no order: as a market's symbols enter a cache. */
let named = 0
function newSubject (): string {
  named++
  return `quote.churn.S${((named * 2654435761) >>> 0).toString(36)}${named.toString(36)}`
}

const pub = await connect()
for (let i = 0; i < subjects; i += 1000) {
  const lines: string[] = []
  for (let k = i; k < Math.min(subjects, i + 1000); k++) lines.push(`PUB ${newSubject()} 2\r\nv0\r\n`)
  await roundTrip(pub, lines.join(''))
}

const pinger = await connect()
await roundTrip(pinger)
const end = Date.now() + seconds * 1000
let rounds = 0
const churn = async (): Promise<void> => {
  const s = await connect()
  for (let sid = 1; Date.now() < end; sid++) {
    const lines: string[] = []
    for (let k = 0; k < NEW_SUBJECTS_A_ROUND; k++) lines.push(`PUB ${newSubject()} 2\r\nv1\r\n`)
    if (subscribing) lines.push(`SUB quote.> ${sid}\r\nUNSUB ${sid}\r\n`)
    await roundTrip(s, lines.join(''))
    rounds++
  }
  s.destroy()
}
const churning = Promise.all(Array.from({ length: churners }, churn))
const trips: number[] = []
while (Date.now() < end) {
  const t0 = performance.now()
  await roundTrip(pinger)
  trips.push(performance.now() - t0)
  await new Promise((resolve) => setTimeout(resolve, 5))
}
await churning
trips.sort((a, b) => a - b)
const p99 = trips[Math.floor(trips.length * 0.99)] as number
console.log(`${subjects} cached subjects, ${seconds} s, ${churners} churners: ${rounds} rounds done of 1,100 new subjects${subscribing ? ', SUB quote.>, UNSUB' : ' (no SUB)'}; ` +
  `another client's PING round trips: ${trips.length}, p99 ${p99.toFixed(0)} ms, longest ${(trips.at(-1) as number).toFixed(0)} ms`)
for (const s of [pub, pinger]) s.destroy()
