/**
 * A worker stopped (SIGSTOP) while a publisher on its peer sends quotes on ever new subjects:
 * what the publisher's worker holds for the stopped one, by its resident memory, sampled every
 * 200 ms until 5 s after the stopped worker went on again (SIGCONT) and caught up. Used by reports/broker/mesh-behind.md (through probe.sh, which starts the
 * broker with two workers):
 *   node --import tsx reports/broker/mesh-behind/probe.ts <nats port> <broker pid> <seconds> <payload bytes>
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'

const [port, brokerPid, seconds, payloadBytes] = process.argv.slice(2).map(Number) as [number, number, number, number]

function workerPid (index: number): number {
  const pids = execFileSync('pgrep', ['-P', String(brokerPid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
  const pid = pids.find((p) => readFileSync(`/proc/${p}/environ`, 'latin1').includes(`TICKFAN_WORKER_INDEX=${index}\0`))
  if (pid === undefined) throw new Error(`worker ${index} not found`)
  return pid
}
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

/** A connection that landed on `worker` (connections are dealt round-robin), past CONNECT; it answers PINGs. */
async function onWorker (worker: number): Promise<{ socket: net.Socket }> {
  for (let tries = 0; tries < 10; tries++) {
    let text = ''
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('data', (d) => { text = d.toString('latin1'); resolve() }))
    if (!text.includes(`W${worker}"`)) { socket.destroy(); continue }
    socket.on('data', (d: Buffer) => { if (d.toString('latin1').includes('PING\r\n')) socket.write('PONG\r\n') })
    socket.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
    return { socket }
  }
  throw new Error(`no connection landed on worker ${worker}`)
}
async function roundTrip (socket: net.Socket, text: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const on = (d: Buffer): void => { if (d.toString('latin1').includes('PONG\r\n')) { socket.off('data', on); resolve() } }
    socket.on('data', on)
    socket.write(`${text}PING\r\n`)
  })
}

const publisher = await onWorker(0)
await roundTrip(publisher.socket, '')
const publishing = workerPid(0)
const stopped = workerPid(1)
const startRss = rssMiB(publishing)
let peakRss = startRss
const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMiB(publishing)) }, 200)
process.kill(stopped, 'SIGSTOP')
const payload = 'x'.repeat(payloadBytes)
let published = 0
const end = Date.now() + seconds * 1000
try {
  while (Date.now() < end) {
    let batch = ''
    for (let k = 0; k < 16; k++) batch += `PUB quote.sprawl.S${published++} ${payload.length}\r\n${payload}\r\n`
    await roundTrip(publisher.socket, batch)
  }
} finally {
  process.kill(stopped, 'SIGCONT')
}
const stoppedAtRss = rssMiB(publishing)
await new Promise((resolve) => setTimeout(resolve, 5000))
clearInterval(sampler)
const varz = await (await fetch(`http://127.0.0.1:${process.env.HTTP_PORT}/varz`)).json() as { tickfan: { worker_links: Record<string, number> } }
const links = varz.tickfan.worker_links
console.log(`${seconds} s with worker 1 stopped, ${payloadBytes} B quotes on new subjects from worker 0: ${published} published; ` +
  `worker 0 RSS ${startRss.toFixed(0)} MiB before, ${stoppedAtRss.toFixed(0)} MiB when worker 1 went on, peak ${peakRss.toFixed(0)} MiB; ` +
  `links: fell behind ${links.linksBehind} times, last values conflated ${links.conflatedMsgs}` +
  (links.heldValuesPastLimit === undefined ? '' : `, held by name past the limit ${links.heldValuesPastLimit} times, resent from the cache ${links.resentFromCache}`))
publisher.socket.destroy()
