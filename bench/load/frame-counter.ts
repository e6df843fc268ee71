/**
 * Counts what a NATS server writes to a client, at the byte level and without copying a
 * payload: MSG/HMSG frames (their payloads skipped by the size field), PINGs and PONGs. A frame
 * cut across chunks is kept until the rest arrives. Lean on purpose: a load generator built on
 * it stays far from being the bottleneck.
 */
export class FrameCounter {
  messages = 0
  pings = 0
  pongs = 0
  private pending: Buffer | null = null

  /** Scans one chunk; returns how many PINGs it completed (each wants a PONG). */
  feed (chunk: Buffer): number {
    let buf = chunk
    if (this.pending !== null) { buf = Buffer.concat([this.pending, chunk]); this.pending = null }
    const pingsBefore = this.pings
    let at = 0
    while (at < buf.length) {
      const eol = buf.indexOf(10, at) // the '\n' of the control line's CRLF
      if (eol < 0) break
      const first = buf[at]
      if (first === 77 || first === 72) { // 'M'SG or 'H'MSG: the last field is the total size
        let size = 0
        let mul = 1
        for (let i = eol - 2; i > at && buf[i] !== 32; i--) { size += ((buf[i] as number) - 48) * mul; mul *= 10 }
        const end = eol + 1 + size + 2
        if (end > buf.length) break
        this.messages++
        at = end
        continue
      }
      if (first === 80 && buf[at + 1] === 73) this.pings++ // PING
      else if (first === 80 && buf[at + 1] === 79) this.pongs++ // PONG
      at = eol + 1
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at))
    return this.pings - pingsBefore
  }
}
