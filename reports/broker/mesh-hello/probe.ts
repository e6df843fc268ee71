/**
 * A worker killed (SIGKILL) and replaced while a publisher on its peer sends quotes, each on a
 * new subject, without pause: once the new worker is linked and the publisher has stopped, does
 * its last-value cache hold every subject its peer's does? Each round kills worker 1 once;
 * the snapshot of `quote.hello.>` is then asked on each worker and the counts compared. Used by
 * reports/broker/mesh-hello.md (through probe.sh, which starts the broker with two workers):
 *   node --import tsx reports/broker/mesh-hello/probe.ts <nats port> <broker pid> <rounds> <ms of publishing before each kill>
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'

const [port, brokerPid, rounds, beforeKillMs] = process.argv.slice(2).map(Number) as [number, number, number, number]
const httpPort = Number(process.env.HTTP_PORT)

function workerPid (index: number): number | undefined {
  const pids = execFileSync('pgrep', ['-P', String(brokerPid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
  return pids.find((p) => { try { return readFileSync(`/proc/${p}/environ`, 'latin1').includes(`TICKFAN_WORKER_INDEX=${index}\0`) } catch { return false } })
}

/** A NATS connection at the byte level: keeps what it read, answers PINGs, counts PONGs. */
class Raw {
  text = ''
  private scanned = 0
  pongs = 0
  private waiters: Array<() => void> = []
  constructor (readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1')
      // Whole lines only: a PING or PONG may come split across reads.
      const end = this.text.lastIndexOf('\r\n')
      if (end >= this.scanned) {
        const lines = this.text.slice(this.scanned, end)
        this.scanned = end + 2
        for (const line of lines.split('\r\n')) {
          if (line === 'PING') socket.write('PONG\r\n')
          else if (line === 'PONG') this.pongs++
        }
      }
      for (const w of this.waiters.splice(0)) w()
    })
  }

  async roundTrip (command: string): Promise<void> {
    const want = this.pongs + 1
    this.socket.write(`${command}PING\r\n`)
    while (this.pongs < want) await new Promise<void>((resolve) => this.waiters.push(resolve))
  }
}

/** A connection that landed on `worker` (connections are dealt round-robin), past CONNECT. */
async function onWorker (worker: number): Promise<Raw> {
  for (let tries = 0; tries < 10; tries++) {
    let text = ''
    const socket = net.connect(port, '127.0.0.1')
    // Closed without a word: dealt to a worker as it was killed (the dealer closes those).
    await new Promise<void>((resolve) => {
      socket.once('data', (d) => { text = d.toString('latin1'); resolve() })
      socket.once('close', () => resolve())
      socket.on('error', () => {})
    })
    if (!text.includes(`W${worker}"`)) { socket.destroy(); continue }
    const raw = new Raw(socket)
    socket.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
    return raw
  }
  throw new Error(`no connection landed on worker ${worker}`)
}
/**
 * The subjects of `pattern`'s snapshot on `raw`, of those `counted`. A large snapshot goes on
 * after the PONG (snapshots.ts), so this waits until no counted one came for 300 ms (live
 * values, on subjects not counted, may go on coming).
 */
async function snapshot (raw: Raw, pattern: string, counted = (_subject: string): boolean => true): Promise<Set<string>> {
  await raw.roundTrip(`SUB ${pattern} 1\r\n`)
  const got = (): Set<string> => new Set([...raw.text.matchAll(/MSG (\S+) 1 /g)].map((m) => m[1] as string).filter(counted))
  for (let seen = -1; seen !== got().size;) {
    seen = got().size
    await delay(300)
  }
  raw.socket.destroy()
  return got()
}
const delay = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const workers = async (): Promise<number> =>
  ((await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { workers: number }).workers

/** The first connection dealt to a worker 1 other than `victim`'s, tried every 5 ms: the dealer admits it once it is linked. */
async function firstOnNewWorker (victim: number): Promise<Raw> {
  for (const end = Date.now() + 15_000; Date.now() < end; await delay(5)) {
    const now = workerPid(1)
    if (now === undefined || now === victim) continue
    const raw = await onWorker(1).catch(() => null)
    if (raw !== null) return raw
  }
  throw new Error('worker 1 was not replaced within 15 s')
}

const publisher = await onWorker(0)
await publisher.roundTrip('')
let published = 0
let missedRounds = 0
let missedTotal = 0
let earlyMissedRounds = 0
let earlyMissedTotal = 0
for (let round = 1; round <= rounds; round++) {
  const roundStart = published
  let publishing = true
  const sending = (async () => {
    while (publishing) {
      let batch = ''
      for (let k = 0; k < 16; k++) batch += `PUB quote.hello.R${round}.S${published++} 2\r\nv1\r\n`
      await publisher.roundTrip(batch)
    }
  })()
  await delay(beforeKillMs)
  const victim = workerPid(1) as number
  const beforeKill = published // each sent before the kill, in worker 0's cache long before worker 1 is back
  process.kill(victim, 'SIGKILL')
  // The first client the new worker 1 takes: its snapshot must hold every value published before the kill.
  const beforeTheKill = (subject: string): boolean => Number(subject.slice(subject.lastIndexOf('.S') + 2)) < beforeKill
  const early = await snapshot(await firstOnNewWorker(victim), `quote.hello.R${round}.>`, beforeTheKill)
  const earlyMissed = beforeKill - roundStart - early.size
  if (earlyMissed > 0) earlyMissedRounds++
  earlyMissedTotal += earlyMissed
  // Then a little longer, still publishing.
  for (let i = 0; i < 300 && await workers() !== 2; i++) await delay(50)
  await delay(500)
  publishing = false
  await sending
  await delay(500) // everything published has gone round
  const pattern = `quote.hello.R${round}.>`
  const [on0, on1] = [await snapshot(await onWorker(0), pattern), await snapshot(await onWorker(1), pattern)]
  const missing = [...on0].filter((s) => !on1.has(s))
  if (missing.length > 0) missedRounds++
  missedTotal += missing.length
  console.log(`round ${round}: the first client on the new worker 1 missed ${earlyMissed} of the ${beforeKill - roundStart} ` +
    `values published before the kill; then worker 0 holds ${on0.size} subjects, worker 1 ${on1.size}; missing on worker 1: ${missing.length}` +
    (missing.length > 0 ? ` (${missing.slice(0, 5).join(' ')}${missing.length > 5 ? ' …' : ''})` : ''))
}
console.log(`${rounds} restarts of worker 1 under a publisher on worker 0: ${missedRounds} left worker 1's cache without subjects worker 0 holds (${missedTotal} subjects in all); ` +
  `in ${earlyMissedRounds} the first client on the new worker 1 missed values published before the kill (${earlyMissedTotal} in all)`)
publisher.socket.destroy()
