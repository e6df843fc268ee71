/**
 * A lean NATS client connection over a raw socket, for load generators: it sends CONNECT,
 * answers the server's PINGs, makes round trips (PING, then wait for the PONG), and scans what
 * arrives with a FrameScanner, handing each message to an optional visitor without copying it.
 * The official client builds a message object, decodes the subject and parses headers for
 * every delivery; at a generator's rates that work, not the broker, can become what is measured.
 */
import net from 'node:net'
import { FrameScanner, type FrameVisitor } from './frame-scanner.ts'

export class RawConnection {
  /** Whether the server closed this connection. */
  closed = false
  private readonly frames: FrameScanner
  private waiters: Array<() => void> = []

  private constructor (readonly socket: net.Socket, visit: FrameVisitor | null) {
    this.frames = new FrameScanner(visit)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      for (let pings = this.frames.feed(chunk); pings > 0; pings--) socket.write('PONG\r\n')
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w()
    })
  }

  /** Messages received (settable, so a measurement can start from zero). */
  get received (): number { return this.frames.messages }
  set received (n: number) { this.frames.messages = n }

  /** The server's id from its INFO ('' if it sent none). */
  get serverId (): string {
    const info = this.frames.info
    return info === null ? '' : String((JSON.parse(info) as { server_id?: unknown }).server_id ?? '')
  }

  /** Connects, sends CONNECT (headers on, no +OK) and completes a round trip. */
  static async open (url: string, name: string, visit: FrameVisitor | null = null): Promise<RawConnection> {
    const { hostname, port } = new URL(url)
    const socket = net.connect(Number(port), hostname)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const c = new RawConnection(socket, visit)
    socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, name })}\r\n`)
    await c.roundTrip()
    return c
  }

  /** Resolves at the next input or close (or after `ms`). */
  async next (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  /** PING, then wait for the PONG: everything written before it has been processed. */
  async roundTrip (): Promise<void> {
    const before = this.frames.pongs
    this.socket.write('PING\r\n')
    while (this.frames.pongs === before) {
      if (this.closed) throw new Error('the server closed the connection')
      await this.next(1000)
    }
  }

  /** Closes at once, whatever is unsent or unread (call roundTrip() first to be sure the server has it all). */
  close (): void {
    this.socket.destroy()
  }
}
