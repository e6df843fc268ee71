/**
 * The multi-core broker's front door (broker/cluster.ts): the primary accepts every client
 * connection on the public NATS and WebSocket ports and deals it, in turn, to a worker that is
 * linked and alive, over IPC. The worker serves it as if it had accepted it (RunningBroker.take).
 *
 * Why not Node's cluster round-robin, which does the same: it hands a connection to a worker
 * that has just died when it learns of the death late (a busy machine), and then keeps the
 * connection open for ever without handing it to anyone. A client reconnecting at that moment
 * waits out its connect timeout (reports/ci/cluster-restart-flake.txt). Here a connection the
 * dealer still holds when its worker goes is dealt again, one already on its way is closed (the
 * client reconnects at once), and a worker enters the rotation only once it is linked to the
 * others, so it never serves a subscriber that cannot yet hear the rest of the broker.
 */
import net from 'node:net'
import { listenTcp } from '../lib/ports.ts'
import { ThrottledLog } from '../lib/throttled-log.ts'

/** The public port a connection came in on. */
export type Door = 'nats' | 'ws'

/**
 * primary -> worker, with the connection's socket as the handle. `full`: the broker already holds
 * --max-connections connections across its workers: the worker refuses it as it refuses one
 * past its own limit (INFO and `-ERR 'maximum connections exceeded'`, or a 503 on the WebSocket port).
 */
export interface DealtConnection { type: 'connection', door: Door, full: boolean }

/** worker -> primary, once per connection received, in the order received. */
export interface TookConnection { type: 'took' }

/** worker -> primary, once per connection dealt with room (`full` false), when it has closed. */
export interface LeftConnection { type: 'left' }

/**
 * What the dealer needs of a worker. `send` sends the worker its own copy of the socket, the
 * dealer's staying open (node:child_process's `keepOpen`), and calls back once it is written.
 */
export interface DealTarget {
  isConnected (): boolean
  send (message: DealtConnection, socket: net.Socket, callback: (err: Error | null) => void): void
}

/** A round-robin over members that come and go; each pick is the member after the last one picked. */
export class Rotation<K, V> {
  private readonly members = new Map<K, V>()
  private readonly order: K[] = []
  private cursor = 0

  get size (): number { return this.members.size }

  add (key: K, value: V): void {
    if (!this.members.has(key)) this.order.push(key)
    this.members.set(key, value)
  }

  delete (key: K): void {
    const at = this.order.indexOf(key)
    if (at < 0) return
    this.members.delete(key)
    this.order.splice(at, 1)
    if (at < this.cursor) this.cursor--
  }

  /** The next member in turn, or undefined when there is none. */
  next (): [K, V] | undefined {
    if (this.order.length === 0) return undefined
    if (this.cursor >= this.order.length) this.cursor = 0
    const key = this.order[this.cursor++] as K
    return [key, this.members.get(key) as V]
  }
}

/** What a connection that no worker can take is told before it is closed, per door. */
const NO_WORKER: Record<Door, string> = {
  nats: "-ERR 'no broker worker is available'\r\n",
  ws: 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'
}

/** Per worker: connections not yet written to it (still ours to deal again), and written but not yet taken. */
interface InFlight { queued: Map<net.Socket, Door>, written: net.Socket[] }

export class ConnectionDealer<K> {
  private readonly rotation = new Rotation<K, DealTarget>()
  private readonly inFlight = new Map<K, InFlight>()
  private readonly servers: net.Server[] = []
  /** Connections dealt to a worker (one dealt again counts again). */
  dealt = 0
  /** Connections dealt again: never sent to a worker that went, or not sent to one that could not take it. */
  dealtAgain = 0
  /** Connections closed because their worker died before saying it took them: their clients reconnect. */
  lost = 0
  /** Connections no worker could take (none up): told so and closed. */
  refused = 0
  /** Connections the system would not let the primary accept (such as out of file descriptors). */
  acceptErrors = 0
  /** Connections dealt with room and not yet closed, per worker, and their sum: what --max-connections bounds. */
  private readonly open = new Map<K, number>()
  private openTotal = 0

  private readonly acceptErrorLog: ThrottledLog

  constructor (
    private readonly log: (line: string) => void = () => {},
    /** Connections the broker serves at once across its workers (--max-connections). */
    private readonly maxConnections = Infinity
  ) {
    this.acceptErrorLog = new ThrottledLog((door, detail) => {
      this.log(`the ${door} port could not accept a connection (${detail}); ${this.acceptErrors} so far`)
    }, 1000)
  }

  /** What /varz shows (`tickfan.connection_dealer`). */
  counts (): { dealt: number, dealtAgain: number, lost: number, refused: number, acceptErrors: number } {
    const { dealt, dealtAgain, lost, refused, acceptErrors } = this
    return { dealt, dealtAgain, lost, refused, acceptErrors }
  }

  /** Starts accepting on a public port for `door`; resolves with the port bound. */
  async listen (door: Door, port: number, host: string): Promise<number> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      socket.on('error', () => {}) // a client that resets while it waits here is no one's concern
      this.deal(door, socket)
    })
    this.servers.push(server)
    const bound = await listenTcp(server, port, host)
    // A failed accept (out of file descriptors, say) loses that one connection, not the broker:
    // counted, and said once a second at most.
    server.on('error', (err) => {
      this.acceptErrors++
      this.acceptErrorLog.note(door, err.message)
    })
    return bound
  }

  /** A worker ready to serve: linked to every other. */
  admit (key: K, worker: DealTarget): void {
    this.rotation.add(key, worker)
    if (!this.inFlight.has(key)) this.inFlight.set(key, { queued: new Map(), written: [] })
  }

  /**
   * The worker has its copy of the oldest connection sent to it: ours can go. Workers answer in
   * the order they were sent; should an answer come before the send's own callback, the oldest
   * still queued is the one it took.
   */
  took (key: K): void {
    const flight = this.inFlight.get(key)
    if (flight === undefined) return
    let socket = flight.written.shift()
    if (socket === undefined) {
      const oldest = flight.queued.keys().next()
      if (oldest.done === true) return
      socket = oldest.value
      flight.queued.delete(socket)
    }
    socket.destroy()
  }

  /**
   * A worker gone: it is dealt nothing more. A connection never written to it goes to another; one
   * written but not taken may have reached it, so it is closed rather than served twice.
   */
  retire (key: K): void {
    this.rotation.delete(key)
    // Its connections went with it: their places are free.
    this.openTotal -= this.open.get(key) ?? 0
    this.open.delete(key)
    const stranded = this.inFlight.get(key)
    this.inFlight.delete(key)
    if (stranded === undefined) return
    const queued = [...stranded.queued]
    stranded.queued.clear() // their callbacks, should they still come, find nothing to do
    for (const socket of stranded.written) { this.lost++; socket.destroy() }
    for (const [socket, door] of queued) { this.dealtAgain++; this.deal(door, socket) }
    if (stranded.written.length > 0 || queued.length > 0) {
      this.log(`a worker went with ${queued.length} connection(s) not yet sent to it (dealt again) and ${stranded.written.length} not yet taken (closed)`)
    }
  }

  deal (door: Door, socket: net.Socket): void {
    for (let tries = this.rotation.size; tries > 0; tries--) {
      const [key, worker] = this.rotation.next() as [K, DealTarget]
      if (!worker.isConnected()) { this.retire(key); continue }
      const flight = this.inFlight.get(key) as InFlight
      flight.queued.set(socket, door)
      this.dealt++
      const full = this.openTotal >= this.maxConnections
      if (!full) this.placeTaken(key, 1)
      worker.send({ type: 'connection', door, full }, socket, (err) => {
        if (!flight.queued.delete(socket)) return // retired meanwhile, and dealt again
        if (err === null) { flight.written.push(socket); return }
        this.log(`a ${door} connection could not be sent to a worker (${err.message}); dealing it again`)
        if (!full) this.placeTaken(key, -1)
        this.dealtAgain++
        this.deal(door, socket)
      })
      return
    }
    this.refused++
    socket.end(NO_WORKER[door])
  }

  /** A connection the worker was dealt with room has closed (LeftConnection). */
  left (key: K): void {
    if ((this.open.get(key) ?? 0) > 0) this.placeTaken(key, -1)
  }

  /** Connections held across the workers (dealt with room, not yet closed). */
  get openConnections (): number {
    return this.openTotal
  }

  private placeTaken (key: K, delta: 1 | -1): void {
    this.open.set(key, (this.open.get(key) ?? 0) + delta)
    this.openTotal += delta
  }

  /** Stops accepting at once; connections already dealt are the workers' to close. */
  close (): void {
    for (const server of this.servers) server.close()
  }
}
