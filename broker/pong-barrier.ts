/**
 * PONG promises what one nats-server promises: every SUB and UNSUB a client sent before its
 * PING is in force, here and on every other worker, so whatever is published after the PONG
 * reaches (or no longer reaches) that client. On a multi-worker broker a PONG after an interest
 * change waits until every other worker has applied it; later PONGs wait behind it, in order.
 * With one worker, or no interest change pending, a PONG goes at once. (That the PING also
 * waits for the client's own earlier publishes to be delivered here is client.ts's
 * afterOwnPublishes, before it reaches this.)
 */
import type { ClientHost } from './client-host.ts'

export class PongBarrier {
  /** The interest sequence after the client's latest SUB or UNSUB. */
  private seq = 0
  /** PONGs waiting for other workers to apply interest changes: the sequence each waits for. */
  private readonly held: number[] = []

  constructor (
    private readonly host: Pick<ClientHost, 'interestSeq' | 'interestSettled' | 'whenInterestSettled'>,
    /** Sends one PONG; returns false once the connection has closed. */
    private readonly sendPong: () => boolean
  ) {}

  /** The client's SUB or UNSUB was just applied here (and announced to the other workers). */
  interestChanged (): void {
    this.seq = this.host.interestSeq
  }

  /** The client sent PING. */
  ping (): void {
    if (this.held.length === 0 && this.host.interestSettled(this.seq)) {
      this.sendPong()
      return
    }
    this.held.push(this.seq)
    if (this.held.length === 1) this.await()
  }

  private await (): void {
    const seq = this.held[0] as number
    this.host.whenInterestSettled(seq, () => {
      while (this.held.length > 0 && (this.held[0] as number) <= seq) {
        this.held.shift()
        if (!this.sendPong()) return
      }
      if (this.held.length > 0) this.await()
    })
  }
}
