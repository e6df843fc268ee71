/**
 * Raw sockets that probe how a port treats a connection: one that says nothing, one that drips
 * an HTTP upgrade request, one that speaks NATS until it is served or refused. Used by the tests
 * of the broker's connection limits and by the scripts of reports/broker/connection-limits.
 */
import net from 'node:net'

/** A connection to `port` on loopback, and when it closed (ms after it was opened) once it has. */
export async function opened (port: number): Promise<{ socket: net.Socket, closed: Promise<number> }> {
  const started = Date.now()
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)))
  // A connection the server drops may close before its 'connect' is seen.
  await Promise.race([new Promise((resolve) => socket.once('connect', resolve)), closed])
  return { socket, closed }
}

/** `closed`'s time, or null when it has not closed within `ms` of this call. */
export async function within (closed: Promise<number>, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms) })
  const closedAfter = await Promise.race([closed, late])
  clearTimeout(timer)
  return closedAfter
}

/** How long a probe stayed open (null: still open when given up), and what it was told (`told`: the first line). */
export interface Held { ms: number | null, told: string, text: string }

/** Opens a connection, lets `behave` act on it, and waits up to `giveUpMs` for the server to close it. */
export async function heldFor (port: number, behave: (socket: net.Socket) => void, giveUpMs: number): Promise<Held> {
  const { socket, closed } = await opened(port)
  let text = ''
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
  if (!socket.destroyed) behave(socket)
  const ms = await within(closed, giveUpMs)
  socket.destroy()
  return { ms, told: text.split('\r\n')[0] as string, text }
}

/** Says nothing. */
export function silent (): void {}

/** An upgrade request begun, then one more header line every 100 ms, never finished (slowloris). */
export function drip (socket: net.Socket): void {
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n')
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer)
    else socket.write('X-Padding: 1\r\n')
  }, 100)
}

/** What became of a NATS client: answered, told it is past the connection limit, or closed without a word. */
export type Outcome = 'served' | 'refused' | 'cut off'

const REFUSED = "-ERR 'maximum connections exceeded'\r\n"

/**
 * Connects to a NATS port (the socket joins `sockets`, for the caller to close): 'served' once a
 * PING after CONNECT is answered, 'refused' on the limit's -ERR, 'cut off' on a close without it.
 */
export async function natsOutcome (port: number, sockets: net.Socket[]): Promise<Outcome> {
  const socket = net.connect(port, '127.0.0.1')
  sockets.push(socket)
  let text = ''
  return await new Promise<Outcome>((resolve) => {
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.includes(REFUSED)) resolve('refused')
      else if (text.includes('PONG\r\n')) resolve('served')
      else if (text.startsWith('INFO ') && text.includes('\r\n')) socket.write('CONNECT {"verbose":false}\r\nPING\r\n')
    })
    socket.once('close', () => resolve(text.includes(REFUSED) ? 'refused' : 'cut off'))
  })
}

/** `count` clients arriving `batch` at a time, all held open (in `sockets`) until the caller closes them. */
export async function natsFlood (
  port: number,
  count: number,
  sockets: net.Socket[],
  batch = 20
): Promise<Record<Outcome, number>> {
  const tally: Record<Outcome, number> = { served: 0, refused: 0, 'cut off': 0 }
  for (let done = 0; done < count; done += batch) {
    const arrivals = Array.from({ length: Math.min(batch, count - done) }, async () => await natsOutcome(port, sockets))
    for (const outcome of await Promise.all(arrivals)) tally[outcome]++
  }
  return tally
}
