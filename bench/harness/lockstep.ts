/**
 * Drives bench/load/lockstep.ts: one generator process, sessions on several brokers, and
 * measurements of broker CPU per delivery (the broker's whole process tree, to the nanosecond)
 * taken one at a time, so the brokers under comparison never run at once.
 */
import type { ChildProcess } from 'node:child_process'
import type { Firehose, FirehoseCommand, LockstepPath, Measured, OpenCommand, Throughput, ThroughputCommand } from '../load/lockstep.ts'
import { cpuNanoseconds, runLoad } from './processes.ts'

export interface CpuPerDelivery {
  /** Broker CPU (its process tree) per delivery, in nanoseconds. */
  brokerNsPerDelivery: number
  delivered: number
  expected: number
  /** Rounds that did not complete in time: a lost or conflated message; the sample is not valid. */
  stalls: number
  elapsedMs: number
  /** The generator's own CPU over the measurement, as a share of the elapsed time (its headroom is 1 minus this). */
  generatorBusy: number
}

export class LockstepLoad {
  private readonly child: ChildProcess
  private readonly done: Promise<unknown>
  private readonly waiting = new Map<string, (msg: unknown) => void>()
  private readonly ready: Promise<void>

  constructor (cpus: string | undefined) {
    let ready!: () => void
    this.ready = new Promise((resolve) => { ready = resolve })
    const { child, result } = runLoad<unknown>('lockstep.ts', {}, cpus, (msg) => {
      const m = msg as { type: string, id?: string }
      if (m.type === 'ready') return ready()
      const key = `${m.type}:${m.id ?? ''}`
      const resolve = this.waiting.get(key)
      this.waiting.delete(key)
      resolve?.(msg)
    })
    this.child = child
    this.done = result
    // A generator that fails rejects every request waiting on it.
    result.catch((err: unknown) => {
      for (const r of this.waiting.values()) r(err instanceof Error ? err : new Error(String(err)))
    })
  }

  private async request<T> (command: { type: string, id: string, [key: string]: unknown }, answer: string): Promise<T> {
    await this.ready
    const reply = new Promise<unknown>((resolve) => this.waiting.set(`${answer}:${command.id}`, resolve))
    this.child.send(command)
    const got = await reply
    if (got instanceof Error) throw got
    return got as T
  }

  async open (
    id: string,
    o: { url: string, path: LockstepPath, subscribers: number, subjects: number, payloadBytes: number, round?: number }
  ): Promise<void> {
    await this.request<unknown>({ type: 'open', id, ...o } satisfies OpenCommand, 'opened')
  }

  /** Publishes `messages` in lockstep rounds on session `id`; `brokerPid` is whose CPU is read. */
  async measure (id: string, brokerPid: number, messages: number): Promise<CpuPerDelivery> {
    const before = cpuNanoseconds(brokerPid)
    const m = await this.request<Measured>({ type: 'measure', id, messages }, 'measured')
    const after = cpuNanoseconds(brokerPid)
    if (before === null || after === null) throw new Error(`the broker (pid ${brokerPid}) exited during the measurement`)
    return {
      brokerNsPerDelivery: (after - before) / Math.max(1, m.delivered),
      delivered: m.delivered,
      expected: m.expected,
      stalls: m.stalls,
      elapsedMs: m.elapsedMs,
      generatorBusy: m.cpuSeconds * 1000 / Math.max(1, m.elapsedMs)
    }
  }

  /** Every open session pipelined at once for `seconds`; what all their subscribers received. */
  async throughput (
    seconds: number,
    window: number
  ): Promise<{ delivered: number, elapsedMs: number, cpuSeconds: number }> {
    const t = await this.request<Throughput>({ type: 'throughput', id: 'all', seconds, window } satisfies ThroughputCommand, 'throughput')
    return { delivered: t.delivered, elapsedMs: t.elapsedMs, cpuSeconds: t.cpuSeconds }
  }

  /** The firehose on session `id` (see load/lockstep.ts), with the broker's CPU per delivery. */
  async firehose (
    id: string,
    brokerPid: number,
    messages: number
  ): Promise<Firehose & { brokerNsPerDelivery: number }> {
    const before = cpuNanoseconds(brokerPid)
    const f = await this.request<Firehose>({ type: 'firehose', id, messages } satisfies FirehoseCommand, 'firehose')
    const after = cpuNanoseconds(brokerPid)
    if (before === null || after === null) throw new Error(`the broker (pid ${brokerPid}) exited during the firehose`)
    return { ...f, brokerNsPerDelivery: (after - before) / Math.max(1, f.delivered) }
  }

  async stop (): Promise<void> {
    this.child.send({ type: 'stop' })
    await this.done.catch(() => {})
  }
}
