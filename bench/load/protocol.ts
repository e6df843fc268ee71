/**
 * What load processes and the orchestrator tell each other, and the timestamped payload.
 * Timestamps are process.hrtime.bigint() (CLOCK_MONOTONIC on Linux), comparable across
 * processes on one host.
 */

const PADDING = 'x'.repeat(4096)

/** `seq intendedNs sentNs ` then padding to the message size. */
export function timedPayloadText (seq: number, intendedNs: bigint, sentNs: bigint, size: number): string {
  const head = `${seq} ${intendedNs} ${sentNs} `
  if (head.length >= size) return head
  return head + (size - head.length <= PADDING.length ? PADDING.slice(0, size - head.length) : 'x'.repeat(size - head.length))
}

export function decodeTimedPayload (data: Uint8Array): { seq: number, intendedNs: bigint, sentNs: bigint } {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 64)).toString('latin1')
  const [seq, intended, sent] = text.split(' ')
  return { seq: Number(seq), intendedNs: BigInt(intended as string), sentNs: BigInt(sent as string) }
}

/** A timed payload's fields as numbers (times in ns; past 2^53 ns, 104 days of uptime, they round to a few ns). */
export interface TimedFields { seq: number, intendedNs: number, sentNs: number }

/**
 * Reads the three leading fields of the timed payload at buf[start, end) into `into`, making no
 * string: the lean subscriber's path. Returns false if they are not there.
 */
export function readTimedPayload (buf: Uint8Array, start: number, end: number, into: TimedFields): boolean {
  // One loop over the three fields, with no closure: a load script runs under tsx, whose
  // keepNames wraps every closure made per call in a naming helper (a third of the subscriber's
  // CPU when this read its fields through one).
  let at = start
  for (let field = 0; field < 3; field++) {
    let n = 0
    const from = at
    for (let b = buf[at]; at < end && b !== 32; b = buf[++at]) {
      if (b === undefined || b < 48 || b > 57) return false
      n = n * 10 + (b - 48)
    }
    if (at === from || at >= end) return false
    at++
    if (field === 0) into.seq = n
    else if (field === 1) into.intendedNs = n
    else into.sentNs = n
  }
  return true
}

/** Reads the JSON config a load script was started with, and sets up result reporting. */
export function loadConfig<T> (): T {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('a load script needs its JSON config as first argument')
  return JSON.parse(raw) as T
}

/** Sends the result and exits once it is written: a large result must not be cut by exiting. */
export function report (result: unknown): void {
  if (process.send === undefined) return
  process.send({ type: 'result', result }, undefined, {}, () => process.exit(0))
}

export function fail (err: unknown): void {
  process.send?.({ type: 'error', error: err instanceof Error ? err.message : String(err) })
  process.exitCode = 1
}

export function waitForMessage<T> (type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type?: string } & T): void => {
      if (msg.type === type) {
        process.off('message', onMessage)
        resolve(msg)
      }
    }
    process.on('message', onMessage)
  })
}
