/**
 * One publisher's header block against a nats.js subscriber that reads headers.
 *
 *   node --import tsx reports/broker/header-blocks/probe.ts <port> <label>
 *
 * A nats.js client subscribes to `probe.>` and reads each message's headers. A raw connection
 * publishes one HPUB whose block has a space in a header name, and a second nats.js client then
 * publishes 100 good messages. Prints what the raw publisher was told, how many of the 100 the
 * subscriber got within 2 s, and whether its connection still reads.
 */
import net from 'node:net'
import { connect } from '@nats-io/transport-node'

const port = Number(process.argv[2])
const label = process.argv[3] ?? ''
const sub = await connect({ servers: `127.0.0.1:${port}`, reconnect: false })
let good = 0
sub.subscribe('probe.>', { callback: (_e, m) => { if (m.headers?.get('X') === 'ok') good++ } })
await sub.flush()

const raw = net.connect(port, '127.0.0.1')
let told = ''
raw.on('data', (d: Buffer) => { told += d.toString('latin1') })
await new Promise((resolve) => raw.once('data', resolve))
const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'
raw.write(`CONNECT {"verbose":false,"headers":true}\r\nHPUB probe.a ${block.length} ${block.length + 3}\r\n${block}bad\r\nPING\r\n`)
await new Promise((resolve) => setTimeout(resolve, 300))

const { headers } = await import('@nats-io/transport-node')
const pub = await connect({ servers: `127.0.0.1:${port}`, reconnect: false })
const h = headers()
h.set('X', 'ok')
for (let i = 0; i < 100; i++) pub.publish('probe.a', String(i), { headers: h })
await pub.flush()
const deadline = Date.now() + 2000
while (good < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
const answer = told.split('\r\n').filter((l) => l.startsWith('-ERR') || l === 'PONG').join(' ') || '(nothing)'
// A connection whose read loop ended still answers nothing: a flush waits for a PONG it never reads.
const reads = await Promise.race([sub.flush().then(() => 'yes'), new Promise((resolve) => setTimeout(() => resolve('no (a PING unanswered after 2 s)'), 2000))])
console.log(`${label}: publisher told ${answer}; subscriber got ${good} of 100 good messages; its connection reads: ${reads}`)
raw.destroy()
await pub.close()
await sub.close().catch(() => {})
process.exit(0)
