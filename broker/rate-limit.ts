/**
 * The inbound rate limit of one connection: at most `perSecond` messages in each one-second
 * window (windows start at the first message after the previous one ended). Pure: the caller
 * passes the clock and decides what a refusal means.
 */

/** 'admit': route it; 'drop': refuse it quietly; 'drop-and-tell': refuse it and tell the client (once a second). */
export type RateDecision = 'admit' | 'drop' | 'drop-and-tell'

export class InboundRateLimit {
  private windowStartMs = 0
  private windowMsgs = 0
  private toldAtMs = -Infinity
  /** Messages refused so far. */
  dropped = 0

  /** `perSecond` of 0 admits everything. */
  constructor (private readonly perSecond: number) {}

  admit (nowMs: number): RateDecision {
    if (this.perSecond <= 0) return 'admit'
    if (nowMs - this.windowStartMs >= 1000) {
      this.windowStartMs = nowMs
      this.windowMsgs = 0
    }
    if (++this.windowMsgs <= this.perSecond) return 'admit'
    this.dropped++
    if (nowMs - this.toldAtMs < 1000) return 'drop'
    this.toldAtMs = nowMs
    return 'drop-and-tell'
  }
}
