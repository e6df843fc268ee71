/**
 * The order of a client's replies: its PONGs, and in verbose mode its +OKs and the -ERRs that
 * leave it connected. They go out in the order of the commands they answer, as from one
 * nats-server.
 *
 * A PONG promises what one nats-server promises: every SUB and UNSUB the client sent before its
 * PING is in force, here and on every other worker, so whatever is published after the PONG
 * reaches (or no longer reaches) that client. On a multi-worker broker a PONG after an interest
 * change waits until every other worker has applied it, and every reply after it waits behind
 * it. With one worker, or no interest change pending, a reply goes at once. (That a reply also
 * waits for the client's own earlier publishes to be delivered here is client.ts's
 * afterOwnPublishes, before it reaches this; and that the client's later commands wait for a
 * PONG that waits here is its holdInputForPong.)
 */
import type { ClientHost } from './client-host.ts'

interface Held {
  readonly line: Buffer | null
  readonly waitsFor: number | null
  readonly run: (() => void) | null
}

export class ReplyOrder {
  /** The interest sequence after the client's latest SUB or UNSUB. */
  private seq = 0
  /**
   * Replies not sent yet, in order: a PONG with the interest sequence it waits for, others with
   * null; last perhaps the connection's close (`afterReplies`), a run and no line.
   */
  private readonly held: Held[] = []

  constructor (
    private readonly host: Pick<ClientHost, 'interestSeq' | 'interestSettled' | 'whenInterestSettled'>,
    /** Writes one reply; returns false once the connection has closed. */
    private readonly send: (line: Buffer) => boolean,
    private readonly pong: Buffer,
    /** Told when the replies that waited have all gone. */
    private readonly drained: () => void = () => {}
  ) {}

  /** Whether a PING now would be answered at once: no reply waits, the latest SUB or UNSUB in force everywhere. */
  get settled (): boolean {
    return this.held.length === 0 && this.host.interestSettled(this.seq)
  }

  /** Whether a reply waits. */
  get holds (): boolean {
    return this.held.length > 0
  }

  /** The client's SUB or UNSUB was just applied here (and announced to the other workers). */
  interestChanged (): void {
    this.seq = this.host.interestSeq
  }

  /** The interest sequence after the client's latest SUB or UNSUB. */
  get sequence (): number {
    return this.seq
  }

  /** The client sent PING when the interest sequence was `seq` (sequence; by default now). */
  ping (seq = this.seq): void {
    this.push(this.pong, seq)
  }

  /** A +OK or an -ERR that keeps the connection open. */
  reply (line: Buffer): void {
    this.push(line, null)
  }

  /** Runs `run` (a close after a fatal error) once every reply before it has gone; at once when none waits. */
  afterReplies (run: () => void): void {
    if (this.held.length === 0) run()
    else this.held.push({ line: null, waitsFor: null, run })
  }

  private push (line: Buffer, waitsFor: number | null): void {
    if (this.held.length === 0 && (waitsFor === null || this.host.interestSettled(waitsFor))) {
      this.send(line)
      return
    }
    this.held.push({ line, waitsFor, run: null })
    if (this.held.length === 1) this.await()
  }

  /** The first held reply waits for its interest sequence; then it and every ready one behind it go. */
  private await (): void {
    const head = this.held[0] as Held & { waitsFor: number }
    this.host.whenInterestSettled(head.waitsFor, () => {
      while (this.held.length > 0) {
        const next = this.held[0] as Held
        if (next !== head && next.waitsFor !== null && !this.host.interestSettled(next.waitsFor)) {
          this.await()
          return
        }
        this.held.shift()
        if (next.line === null) next.run?.()
        else if (!this.send(next.line)) return
      }
      this.drained()
    })
  }
}
