/**
 * The edges: TCP sockets and WebSocket connections become `Transport`s feeding a `Client`.
 * Everything protocol-shaped happens in the core; here are only bytes, drain signals and close.
 */
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import type { WebSocket } from 'ws'
import type { Client } from './client.ts'
import type { Transport } from './client-host.ts'

/** How long a closing socket may take to flush its final -ERR before it is destroyed. */
const CLOSE_GRACE_MS = 2000
/** Bytes read from a closing socket before it is destroyed without waiting for the grace period. */
const DISCARD_AFTER_CLOSE_BYTES = 64 * 1024

export type Acceptor = (transport: Transport) => Client | null

/**
 * Closing sockets that may wait out their grace at once. Each holds one of the broker's files,
 * and lib/open-files.ts keeps FILES_KEPT_FREE for them: past it, a closing socket is destroyed
 * as soon as its final bytes are flushed. Before, a flood of connections past the limit that
 * never closed their end held a file each for the whole grace: under an open-file limit of
 * 400, the clients that came next were cut off without a word instead of told why
 * (reports/broker/connection-limits.md).
 */
export const MAX_LINGERING_CLOSES = 32
let lingering = 0

/** Closes `socket` once the peer closes its end too, or after CLOSE_GRACE_MS (see MAX_LINGERING_CLOSES). */
function destroyLater (socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS)
  timer.unref()
  if (lingering >= MAX_LINGERING_CLOSES) {
    if (socket.writableFinished) socket.destroy()
    else socket.once('finish', () => socket.destroy())
  }
  lingering++
  socket.once('close', () => { lingering--; clearTimeout(timer) })
}

class TcpTransport implements Transport {
  readonly kind = 'tcp'
  readonly remoteAddress: string
  readonly remotePort: number
  /** The plain socket until TLS takes over (after INFO), then the TLS socket over it. */
  constructor (public socket: net.Socket) {
    this.remoteAddress = socket.remoteAddress ?? ''
    this.remotePort = socket.remotePort ?? 0
  }

  write (chunk: Buffer, written?: () => void): void {
    this.socket.write(chunk, written)
  }

  get bufferedBytes (): number {
    return this.socket.writableLength
  }

  pauseReading (): void { this.socket.pause() }
  resumeReading (): void { this.socket.resume() }

  close (finalLine: Buffer | null): void {
    const socket = this.socket
    if (socket.destroyed) return
    // Reading goes on, so the client's FIN is seen and the close is clean; but a client that
    // goes on sending (one cut off for flooding) would be read, and its input thrown away, at
    // full speed for the whole grace period: past DISCARD_AFTER_CLOSE_BYTES it is cut at once.
    let discarded = 0
    socket.on('data', (chunk: Buffer) => {
      if ((discarded += chunk.length) > DISCARD_AFTER_CLOSE_BYTES) socket.destroy()
    })
    if (finalLine !== null && socket.writable) socket.end(finalLine)
    else socket.end()
    destroyLater(socket)
  }
}

/**
 * A TCP connection. With `secureContext`, NATS's TLS upgrade: INFO (saying tls_required) goes
 * out in plain text, then the client starts the TLS handshake and everything after is
 * encrypted. A client that never completes it is closed by the connect timeout.
 */
export function attachTcp (socket: net.Socket, accept: Acceptor, secureContext: tls.SecureContext | null = null): void {
  socket.setNoDelay(true)
  const transport = new TcpTransport(socket)
  const client = accept(transport)
  socket.on('error', () => client?.transportClosed('transport error'))
  if (client === null) return
  let stream: net.Socket = socket
  if (secureContext !== null) {
    stream = new tls.TLSSocket(socket, { isServer: true, secureContext })
    transport.socket = stream
    stream.on('error', () => client.transportClosed('transport error'))
  }
  stream.on('data', (chunk: Buffer) => client.receive(chunk))
  stream.on('drain', () => client.writer.drained())
  stream.on('end', () => client.transportClosed('client closed'))
  stream.on('close', () => client.transportClosed('client closed'))
}

class WebSocketTransport implements Transport {
  readonly kind = 'websocket'
  constructor (
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number
  ) {}

  write (chunk: Buffer, written?: () => void): void {
    // One binary frame per flush turn; nats.js times out on text frames.
    this.ws.send(chunk, { binary: true, compress: false }, written)
  }

  get bufferedBytes (): number {
    return this.ws.bufferedAmount
  }

  pauseReading (): void { this.ws.pause() }
  resumeReading (): void { this.ws.resume() }

  close (finalLine: Buffer | null): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    if (finalLine !== null) ws.send(finalLine, { binary: true, compress: false })
    ws.close(1000)
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS)
    timer.unref()
    ws.once('close', () => clearTimeout(timer))
  }
}

/** How HandshakeDeadline counts connections still upgrading against the connection limit. */
export interface UpgradeCount {
  /** A connection arrived: true if it fits (and is now counted), false to refuse it. */
  admit (socket: net.Socket): boolean
  /** A counted connection upgraded or went. */
  release (): void
}

/**
 * The WebSocket port's door. A connection past the connection limit (counting those still
 * upgrading) gets `503 Service Unavailable` at once (with wss, before any TLS: it is closed
 * unanswered); one that has not upgraded within `ms` of arriving gets `408 Request Timeout`
 * where nothing was written to it yet (with wss, where its TLS handshake is done; else it is
 * closed unanswered); either is closed. Without this, one that sends nothing, or its request a
 * line at a time (slowloris), holds one of the broker's files, uncounted, for as long as Node's
 * HTTP server allows: 60 s for the headers, none for a silent socket. Node's own checks
 * (`headersTimeout`) run only on a server that listens, and a worker's never does (the primary
 * deals it connections), so this is a timer per connection, cleared by `met` at the upgrade.
 * With wss it is counted from the TCP connection, not from the end of its TLS handshake: 200
 * sockets that never began one were each held the 2 s handshake timeout past a limit of 20
 * (reports/broker/connection-limits.md).
 */
export class HandshakeDeadline {
  /** Armed raw sockets, and (wss) the TLS socket over each and back, once its handshake is done. */
  private readonly timers = new WeakMap<net.Socket, NodeJS.Timeout>()
  private readonly secured = new WeakMap<net.Socket, tls.TLSSocket>()
  private readonly rawOf = new WeakMap<object, net.Socket>()
  /** (wss) Armed raw sockets by their peer's address and port, for their TLS socket to find them. */
  private readonly byPeer = new Map<string, net.Socket>()

  constructor (
    server: net.Server,
    private readonly tlsServer: boolean,
    private readonly ms: number,
    private readonly count: UpgradeCount
  ) {
    server.on('connection', (socket: net.Socket) => { this.arm(socket) })
    if (tlsServer) {
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        const raw = this.byPeer.get(peerKey(socket))
        if (raw === undefined) return
        this.secured.set(raw, socket)
        this.rawOf.set(socket, raw)
      })
    }
  }

  /** The connection (its raw or TLS socket) upgraded: its deadline is met, and it counts as a client from now on. */
  met (socket: object): void {
    const raw = this.rawOf.get(socket) ?? socket as net.Socket
    const timer = this.timers.get(raw)
    if (timer === undefined) return
    clearTimeout(timer)
    this.timers.delete(raw)
    if (this.tlsServer) this.byPeer.delete(peerKey(raw))
    this.count.release()
  }

  private arm (socket: net.Socket): void {
    if (!this.count.admit(socket)) {
      // A TLS client could not read a plain answer: the broker's log says why (server.ts).
      if (this.tlsServer) socket.destroy()
      else refuseHttp(socket, '503 Service Unavailable')
      return
    }
    const timer = setTimeout(() => {
      this.met(socket)
      const secured = this.secured.get(socket)
      if (secured !== undefined) refuseHttp(secured, '408 Request Timeout')
      else if (this.tlsServer) socket.destroy() // its TLS handshake not done: nothing can be said
      else refuseHttp(socket, '408 Request Timeout')
    }, this.ms)
    timer.unref()
    this.timers.set(socket, timer)
    if (this.tlsServer) this.byPeer.set(peerKey(socket), socket)
    socket.once('close', () => { this.met(socket) })
  }
}

const peerKey = (socket: net.Socket): string => `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`

/** Answers `status` where nothing was written to the socket yet, and closes it. */
function refuseHttp (socket: net.Socket, status: string): void {
  if (socket.destroyed) return
  if (socket.bytesWritten === 0 && socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  destroyLater(socket)
}

/**
 * Pongs to a client's WebSocket pings that its socket has not taken yet: past it, while the
 * socket holds bytes the kernel would not take (the client is not reading), the client is
 * closed with a stated reason. ws's own answer (`autoPong`, off in server.ts) ended such a
 * connection at the count alone, without a word, and the broker called it "client closed"; and
 * so ended one that sent more than 60 pings in one read and read every pong, since a pong counts
 * until its write's callback, a turn later.
 */
export const MAX_PENDING_WEBSOCKET_PONGS = 60

/** `rawSocket` is the upgraded TCP socket under `ws`: its 'drain' tells us the peer caught up. */
export function attachWebSocket (ws: WebSocket, rawSocket: net.Socket, accept: Acceptor): void {
  rawSocket.setNoDelay(true)
  const client = accept(new WebSocketTransport(ws, rawSocket.remoteAddress ?? '', rawSocket.remotePort ?? 0))
  ws.on('error', () => client?.transportClosed('transport error'))
  if (client === null) return
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (Buffer.isBuffer(data)) client.receive(data)
    else if (Array.isArray(data)) for (const part of data) client.receive(part)
    else client.receive(Buffer.from(data))
  })
  rawSocket.on('drain', () => client.writer.drained())
  ws.on('close', () => client.transportClosed('client closed'))
  let pendingPongs = 0
  const pongTaken = (): void => { pendingPongs-- }
  ws.on('ping', (data: Buffer) => {
    if (client.isClosed || ws.readyState !== ws.OPEN) return
    if (pendingPongs >= MAX_PENDING_WEBSOCKET_PONGS && rawSocket.writableLength > 0) {
      client.closeWith('SLOW_CONSUMER_WEBSOCKET_PONGS', 'slow consumer (websocket pongs)')
      return
    }
    pendingPongs++
    ws.pong(data, false, pongTaken)
  })
}
