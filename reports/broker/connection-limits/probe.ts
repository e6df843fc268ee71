/**
 * The probes of reports/broker/connection-limits, run as `node --import tsx probe.ts <what> <port> ...`
 * from the root of a checkout (broker/test-support/connection-probes.ts, as the tests use them):
 *   flood <port> <count>           NATS clients 20 at a time, all held: served, refused, cut off
 *   handshake <port> <seconds>     a silent socket and a dripped upgrade request: when each closed
 *   silent <port> <count> <seconds> silent sockets at once: how many closed at once, later, never
 */
import type net from 'node:net'
import { drip, heldFor, natsFlood, opened, silent, within, type Held } from '../../../broker/test-support/connection-probes.ts'

const [what, port, a, b] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])]
const sockets: net.Socket[] = []

function said (held: Held, giveUpS: number): string {
  return held.ms === null ? `still open after ${giveUpS} s` : `closed after ${(held.ms / 1000).toFixed(2)} s, told ${JSON.stringify(held.told)}`
}

if (what === 'flood') {
  const tally = await natsFlood(port, a, sockets)
  console.log(`${a} clients: served ${tally.served}, refused with a reason ${tally.refused}, cut off without a word ${tally['cut off']}`)
} else if (what === 'handshake') {
  const [quiet, dripping] = await Promise.all([heldFor(port, silent, a * 1000), heldFor(port, drip, a * 1000)])
  console.log(`silent: ${said(quiet, a)}`)
  console.log(`dripping an upgrade request: ${said(dripping, a)}`)
} else if (what === 'silent') {
  const started = Date.now()
  const probes = await Promise.all(Array.from({ length: a }, async () => await opened(port)))
  const closedAt = (await Promise.all(probes.map(async (p) => await within(p.closed, b * 1000 - (Date.now() - started)))))
  for (const p of probes) p.socket.destroy()
  const early = closedAt.filter((ms) => ms !== null && ms < 1000).length
  const later = closedAt.filter((ms): ms is number => ms !== null && ms >= 1000)
  const range = later.length === 0 ? '-' : `${(Math.min(...later) / 1000).toFixed(1)}-${(Math.max(...later) / 1000).toFixed(1)} s`
  console.log(`${a} silent sockets: ${early} closed within 1 s, ${later.length} closed later (at ${range}), ${a - early - later.length} still open after ${b} s`)
} else {
  console.error('usage: probe.ts flood <port> <count> | handshake <port> <seconds> | silent <port> <count> <seconds>')
  process.exitCode = 2
}
for (const s of sockets) s.destroy()
