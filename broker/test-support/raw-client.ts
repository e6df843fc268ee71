/**
 * A NATS client at the byte level, for tests that must send what official clients never would
 * (bad input, half commands) or stop reading at the TCP level.
 */
import net from 'node:net'

export class RawClient {
  readonly socket: net.Socket
  private received = Buffer.alloc(0)
  readonly closed: Promise<void>
  private waiters: Array<() => void> = []

  /** Where the PING scan has got to: answering PINGs is what every real client does. */
  private scanPos = 0
  autoPong = true
  pingsAnswered = 0

  private constructor (socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true) // as NATS clients do: a PING right after a command must not wait for Nagle
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.answerPings()
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => {
      for (const w of this.waiters.splice(0)) w()
      resolve()
    }))
  }

  static async connect (port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const client = new RawClient(socket)
    await client.waitFor(/^INFO .*\r\n/)
    return client
  }

  /** Scans new input for server PINGs (skipping MSG/HMSG payloads) and answers each with PONG. */
  private answerPings (): void {
    const buf = this.received
    while (this.scanPos < buf.length) {
      const eol = buf.indexOf('\r\n', this.scanPos)
      if (eol === -1) return
      const line = buf.toString('latin1', this.scanPos, eol)
      let next = eol + 2
      if (line.startsWith('MSG ') || line.startsWith('HMSG ')) {
        const total = Number(line.slice(line.lastIndexOf(' ') + 1))
        if (buf.length < next + total + 2) return // wait for the whole payload
        next += total + 2
      } else if (line === 'PING' && this.autoPong && !this.socket.destroyed) {
        this.socket.write('PONG\r\n')
        this.pingsAnswered++
      }
      this.scanPos = next
    }
  }

  get text (): string {
    return this.received.toString('latin1')
  }

  get bytesReceived (): number {
    return this.received.length
  }

  /** What arrived after INFO. */
  get afterInfo (): string {
    const t = this.text
    return t.slice(t.indexOf('\r\n') + 2)
  }

  get isClosed (): boolean {
    return this.socket.destroyed || this.socket.readableEnded
  }

  send (data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Waits until the received text matches, or the socket closes, or the time is up. */
  async waitFor (pattern: RegExp | ((text: string) => boolean), timeoutMs = 5000): Promise<string> {
    const test = typeof pattern === 'function' ? pattern : (t: string) => pattern.test(t)
    const deadline = Date.now() + timeoutMs
    while (!test(this.text)) {
      if (this.socket.destroyed) throw new Error(`socket closed before ${String(pattern)} arrived; got ${JSON.stringify(this.text.slice(-300))}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${String(pattern)}; got ${JSON.stringify(this.text.slice(-300))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.text
  }

  /** Sends CONNECT (and PING) and waits for the PONG. */
  async handshake (
    connect: Record<string,
    unknown> = { verbose: false, pedantic: false, headers: true }
  ): Promise<void> {
    const before = (this.text.match(/PONG\r\n/g) ?? []).length
    this.send(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`)
    await this.waitFor((t) => (t.match(/PONG\r\n/g) ?? []).length > before)
  }

  /** Sends PING and waits for its PONG: everything sent before has been processed. */
  async roundTrip (): Promise<void> {
    const before = (this.text.match(/PONG\r\n/g) ?? []).length
    this.send('PING\r\n')
    await this.waitFor((t) => (t.match(/PONG\r\n/g) ?? []).length > before)
  }

  close (): void {
    this.socket.destroy()
  }
}
