/**
 * The inbound rate limit of one connection: at most `perSecond` messages in each one-second
 * window (a window starts at the first message after the previous one ended). Past it the
 * connection's reads pause until the window ends (input-pacing.ts), so TCP slows the publisher
 * down and nothing is lost; what was already read in the same chunk goes through, so a window
 * may exceed the limit by what one read holds. Pure: the caller passes the clock.
 */

export class InboundRateLimit {
  private windowStartMs = 0
  private windowMsgs = 0
  /** Times the connection went over the limit (and was paused). */
  throttled = 0

  /** `perSecond` of 0 admits everything. */
  constructor (private readonly perSecond: number) {}

  /**
   * Counts a message, or `weight` of them (an operation that costs as much); false the first
   * time a window goes over the limit (pause until windowEndsAtMs). The clock is read only when
   * there is a limit: this runs for every message.
   */
  admit (now: () => number, weight = 1): boolean {
    if (this.perSecond <= 0) return true
    const nowMs = now()
    if (nowMs - this.windowStartMs >= 1000) {
      this.windowStartMs = nowMs
      this.windowMsgs = 0
    }
    const before = this.windowMsgs
    this.windowMsgs = before + weight
    if (before > this.perSecond || this.windowMsgs <= this.perSecond) return true
    this.throttled++
    return false
  }

  get windowEndsAtMs (): number {
    return this.windowStartMs + 1000
  }
}
