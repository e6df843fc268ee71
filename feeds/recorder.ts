/**
 * Record and replay of the normalised stream, so a benchmark or a bug can be reproduced
 * exactly. A recording is JSON Lines: `{"t":<epoch ms>,"subject":"...","tick":{...}}`.
 *
 * Replay re-publishes each tick at its recorded spacing divided by `speed` (1 = real time,
 * N = N times faster, Infinity = as fast as the connection takes them). The venue data of
 * each tick is kept; its publish times and `seq` are stamped anew at replay, so a replay into
 * a broker that already holds newer values is not dropped as older.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { decodeTick, subjectOf, type Tick } from './tick.ts'

export class TickRecorder {
  private readonly out: WriteStream
  records = 0

  constructor (readonly path: string) {
    this.out = createWriteStream(path, { flags: 'a' })
  }

  record (subject: string, tick: Tick): void {
    this.out.write(`{"t":${Date.now()},"subject":"${subject}","tick":${JSON.stringify(tick)}}\n`)
    this.records++
  }

  close (): Promise<void> {
    return new Promise((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())))
  }
}

export interface RecordedTick {
  t: number
  subject: string
  tick: Tick
}

/** Reads a recording; a malformed line is an error naming its line number. */
export async function * readRecording (path: string): AsyncGenerator<RecordedTick> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  for await (const line of lines) {
    n++
    if (line.trim() === '') continue
    let value: { t?: unknown, subject?: unknown, tick?: unknown }
    try {
      value = JSON.parse(line) as typeof value
    } catch {
      throw new Error(`${path}:${n}: not JSON`)
    }
    const decoded = decodeTick(value.tick)
    if (typeof value.t !== 'number' || typeof value.subject !== 'string' || !decoded.ok) {
      throw new Error(`${path}:${n}: not a recorded tick (${decoded.ok ? 'missing t or subject' : decoded.reason})`)
    }
    if (value.subject !== subjectOf(decoded.tick)) throw new Error(`${path}:${n}: subject ${value.subject} does not match the tick`)
    yield { t: value.t, subject: value.subject, tick: decoded.tick }
  }
}

export interface ReplayOptions {
  path: string
  /** 1 = real time; N = N times faster; Infinity = full speed. */
  speed: number
  publish: (subject: string, tick: Tick) => void
  /** Called every so often with the count so far (progress). */
  onProgress?: (replayed: number) => void
  /** Lets the connection drain at full speed (e.g. nc.flush); called every 1000 ticks. */
  yieldEvery?: () => Promise<void>
}

export async function replay (options: ReplayOptions): Promise<{ replayed: number, seconds: number }> {
  const started = Date.now()
  let first: number | null = null
  let replayed = 0
  for await (const r of readRecording(options.path)) {
    first ??= r.t
    if (Number.isFinite(options.speed)) {
      const due = started + (r.t - first) / options.speed
      const wait = due - Date.now()
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    }
    options.publish(r.subject, r.tick)
    replayed++
    if (replayed % 1000 === 0) {
      options.onProgress?.(replayed)
      if (options.yieldEvery !== undefined) await options.yieldEvery()
    }
  }
  return { replayed, seconds: (Date.now() - started) / 1000 }
}
