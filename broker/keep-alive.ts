/**
 * The keep-alive: nats-server's server PINGs. The first goes about 2 s after CONNECT, then one
 * every ping interval; a connection with too many unanswered is stale. Each PING rides at the
 * end of the connection's next write, so its PONG also acknowledges bytes (flow-control.ts).
 */

/** When the first server PING goes after CONNECT, as nats-server does. */
const FIRST_PING_AFTER_MS = 2000

export type KeepAliveDue = 'wait' | 'ping' | 'stale'

export class KeepAlive {
  /** Server PINGs sent and not answered. */
  outstanding = 0
  /** The last PING's round trip (ms); -1 before one was answered. */
  rttMs = -1
  private nextAtMs = Infinity
  private sentAtMs = 0

  /** CONNECT was accepted. */
  start (nowMs: number): void {
    this.nextAtMs = nowMs + FIRST_PING_AFTER_MS
  }

  /** Is a PING due, or has the connection gone stale? A 'ping' answer counts the PING as sent. */
  due (nowMs: number, intervalMs: number, maxOutstanding: number): KeepAliveDue {
    if (nowMs < this.nextAtMs) return 'wait'
    if (this.outstanding >= maxOutstanding) return 'stale'
    this.outstanding++
    this.sentAtMs = nowMs
    this.nextAtMs = nowMs + intervalMs
    return 'ping'
  }

  /** A PONG arrived. */
  answered (nowMs: number): void {
    if (this.outstanding > 0 && this.sentAtMs > 0) this.rttMs = nowMs - this.sentAtMs
    this.outstanding = 0
  }
}
