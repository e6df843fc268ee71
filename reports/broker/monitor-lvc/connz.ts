/**
 * /connz?subs=1 over CONNS connections of SUBS subscriptions each, while a client measures the
 * broker's PING round trips. Used by reports/broker/monitor-lvc.md (through connz.sh):
 *   node --import tsx reports/broker/monitor-lvc/connz.ts <nats port> <monitor port> <connections> <subscriptions each> [query]
 * The query is `subs=1` unless given (connz.sh's third argument), e.g. `limit=100000`. SHOW=1 prints
 * the answer's first 300 characters.
 */
import net from 'node:net'
const [port, httpPort, conns, subs] = process.argv.slice(2, 6).map(Number) as [number, number, number, number]
const query = process.argv[6] ?? 'subs=1'
const sockets: net.Socket[] = []
await Promise.all(Array.from({ length: conns }, async (_, c) => {
  const s = await new Promise<net.Socket>((resolve) => { const x = net.connect(port, '127.0.0.1', () => resolve(x)) })
  s.on('data', () => {})
  s.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
  const lines: string[] = []
  for (let i = 0; i < subs; i++) lines.push(`SUB subs.conn${c}.subject.number.${i} ${i + 1}\r\n`)
  s.write(lines.join(''))
  sockets.push(s)
}))
for (;;) {
  const v = await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json() as { connections: number, subscriptions: number }
  if (v.connections >= conns && v.subscriptions >= conns * subs) break
  await new Promise((r) => setTimeout(r, 200))
}
const pinger = await new Promise<net.Socket>((resolve) => { const x = net.connect(port, '127.0.0.1', () => resolve(x)) })
pinger.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
let longest = 0; let on = true
let pending: (() => void) | null = null
pinger.on('data', (d: Buffer) => { if (d.includes('PONG') && pending) { const p = pending; pending = null; p() } })
const loop = (async () => { while (on) { const t0 = performance.now(); await new Promise<void>((r) => { pending = r; pinger.write('PING\r\n') }); longest = Math.max(longest, performance.now() - t0); await new Promise((r) => setTimeout(r, 5)) } })()
await new Promise((r) => setTimeout(r, 300)); longest = 0
const t0 = performance.now()
const text = await (await fetch(`http://127.0.0.1:${httpPort}/connz?${query}`)).text()
const took = performance.now() - t0
await new Promise((r) => setTimeout(r, 100)); on = false; await loop
if (process.env.SHOW !== undefined) console.log(text.slice(0, 300))
console.log(`${conns} connections x ${subs} subscriptions: /connz?${query} ${(text.length / 1048576).toFixed(1)} MiB in ${took.toFixed(0)} ms, longest PING round trip ${longest.toFixed(0)} ms`)
for (const s of sockets) s.destroy(); pinger.destroy()
