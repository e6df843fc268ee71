/**
 * Scans what a NATS server writes to a client, at the byte level and without copying a payload:
 * MSG/HMSG frames (their bodies skipped by the size field), PINGs, PONGs and INFO. A frame cut
 * across chunks is kept until the rest arrives. Lean on purpose: a load generator built on it
 * stays far from being the bottleneck.
 *
 * Without a visitor it only counts. With one, each message is handed over as offsets into the
 * buffer it arrived in (valid only during the call): the subject, the headers (empty on MSG)
 * and the payload.
 */

/**
 * A message's place in `buf`: subject [subjectStart, subjectEnd), headers [headerStart,
 * payloadStart), payload [payloadStart, end).
 */
export type FrameVisitor = (
  buf: Buffer,
  subjectStart: number,
  subjectEnd: number,
  headerStart: number,
  payloadStart: number,
  end: number
) => void

export class FrameScanner {
  messages = 0
  pings = 0
  pongs = 0
  /** The last INFO line's JSON, as text (null before the first). */
  info: string | null = null
  private pending: Buffer | null = null

  constructor (private readonly visit: FrameVisitor | null = null) {}

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
        let i = eol - 2
        let total = 0
        for (let mul = 1; i > at && buf[i] !== 32; i--, mul *= 10) total += ((buf[i] as number) - 48) * mul
        const end = eol + 1 + total + 2
        if (end > buf.length) break
        this.messages++
        if (this.visit !== null) {
          let headers = 0 // HMSG: the field before the total is the header size
          if (first === 72) {
            for (let mul = 1, j = i - 1; j > at && buf[j] !== 32; j--, mul *= 10) {
              headers += ((buf[j] as number) - 48) * mul
            }
          }
          const subjectStart = at + (first === 77 ? 4 : 5)
          this.visit(buf, subjectStart, buf.indexOf(32, subjectStart), eol + 1, eol + 1 + headers, end - 2)
        }
        at = end
        continue
      }
      if (first === 80 && buf[at + 1] === 73) this.pings++ // PING
      else if (first === 80 && buf[at + 1] === 79) this.pongs++ // PONG
      else if (first === 73 && buf[at + 1] === 78) this.info = buf.toString('utf8', at + 5, eol - 1) // INFO
      at = eol + 1
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at))
    return this.pings - pingsBefore
  }
}
