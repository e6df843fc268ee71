/**
 * What load processes and the orchestrator tell each other, and the timestamped payload.
 * Timestamps are process.hrtime.bigint() (CLOCK_MONOTONIC on Linux), comparable across
 * processes on one host.
 */

/** `seq intendedNs sentNs ` then padding to the message size. */
export function encodeTimedPayload (seq: number, intendedNs: bigint, sentNs: bigint, size: number): Uint8Array {
  const head = `${seq} ${intendedNs} ${sentNs} `
  return Buffer.from(head.length >= size ? head : head + 'x'.repeat(size - head.length))
}

export function decodeTimedPayload (data: Uint8Array): { seq: number, intendedNs: bigint, sentNs: bigint } {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 64)).toString('latin1')
  const [seq, intended, sent] = text.split(' ')
  return { seq: Number(seq), intendedNs: BigInt(intended as string), sentNs: BigInt(sent as string) }
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
