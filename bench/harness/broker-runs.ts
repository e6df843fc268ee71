/**
 * The broker benchmark's two runs, shared by `npm run bench:broker` and `npm run bench:ci`:
 * isolation (a fast subscriber with and without one that stops reading, at a fixed rate) and
 * fan-out throughput with the official client.
 */
import { RawClient } from '../../broker/test-support/raw-client.ts'
import { formatUs } from '../../lib/histogram.ts'
import { sampleMemory, type MemorySeries } from './memory.ts'
import { coreLayout, cpuSeconds, runLoad } from './processes.ts'
import { startTarget } from './runner.ts'
import type { FanoutConfig, FanoutResult } from '../load/fanout.ts'
import type { LatencySubscriberConfig, LatencySubscriberResult } from '../load/latency-subscriber.ts'
import type { PublisherConfig, PublisherResult } from '../load/publisher.ts'

export type { TargetName as Target } from './runner.ts'
import type { TargetName as Target } from './runner.ts'

export interface IsolationRun {
  target: Target
  stalled: boolean
  valid: boolean
  invalidReason: string | null
  subscriber: LatencySubscriberResult
  publisher: PublisherResult
  memory: MemorySeries
  /** Largest pending_bytes /connz showed for any connection during the run. */
  maxPendingBytes: number
  brokerCpuSeconds: number
}

export async function isolationRun (
  target: Target,
  stalled: boolean,
  o: { rate: number, subjects: number, payload: number, seconds: number, warmup: number }
): Promise<IsolationRun> {
  const layout = coreLayout()
  const broker = await startTarget(target, 1, layout.broker)
  try {
    const subscriber = runLoad<LatencySubscriberResult>('latency-subscriber.ts', {
      url: broker.natsUrl, subject: 'quote.bench.>', name: 'fast', warmupSeq: Math.round(o.rate * o.warmup)
    } satisfies LatencySubscriberConfig, layout.load, (msg) => { if ((msg as { type: string }).type === 'ready') ready() })
    let ready!: () => void
    await new Promise<void>((resolve) => { ready = resolve })
    let stalledClient: RawClient | null = null
    if (stalled) {
      stalledClient = await RawClient.connect(broker.port)
      await stalledClient.handshake({ verbose: false, pedantic: false, headers: true, name: 'stalled' })
      stalledClient.send('SUB quote.bench.> 1\r\n')
      await stalledClient.roundTrip()
      stalledClient.socket.pause()
    }
    const cpu0 = cpuSeconds(broker.pid) ?? 0
    const memory = sampleMemory(broker.pid)
    let maxPendingBytes = 0
    const pendingPoll = setInterval(() => {
      fetch(`http://127.0.0.1:${broker.httpPort}/connz?sort=pending&limit=1`)
        .then(async (res) => await res.json() as { connections?: Array<{ pending_bytes?: number }> })
        .then((body) => { maxPendingBytes = Math.max(maxPendingBytes, body.connections?.[0]?.pending_bytes ?? 0) })
        .catch(() => {})
    }, 250)
    const publisher = await runLoad<PublisherResult>('publisher.ts', {
      url: broker.natsUrl,
      subjects: o.subjects,
      tradeRatio: 0,
      ratePerSec: o.rate,
      burstEveryMs: 0,
      burstMs: 0,
      burstFactor: 1,
      rampMs: 0,
      payloadBytes: o.payload, durationMs: (o.seconds + o.warmup) * 1000
    } satisfies PublisherConfig, layout.load).result
    await new Promise((r) => setTimeout(r, 500))
    clearInterval(pendingPoll)
    const mem = memory.stop()
    const brokerCpu = (cpuSeconds(broker.pid) ?? cpu0) - cpu0
    subscriber.child.send({ type: 'stop' })
    const sub = await subscriber.result
    stalledClient?.close()
    // The generator is healthy when it sent everything and its p99 publish delay stayed small.
    const behind = publisher.published < publisher.expected
    const lagging = publisher.publishDelayUs.p99 > 50_000
    return {
      target,
      stalled,
      valid: !behind && !lagging,
      invalidReason: behind ? 'publisher sent fewer messages than scheduled' : lagging ? `publisher p99 delay ${formatUs(publisher.publishDelayUs.p99)}` : null,
      subscriber: sub,
      publisher,
      memory: mem,
      maxPendingBytes,
      brokerCpuSeconds: brokerCpu
    }
  } finally {
    await broker.stop()
  }
}

export async function fanoutRun (
  target: Target,
  o: { fanoutSubscribers: number, fanoutMessages: number, payload: number }
): Promise<FanoutResult & { target: Target, brokerCpuSeconds: number }> {
  const layout = coreLayout()
  const broker = await startTarget(target, 1, layout.broker)
  try {
    const cpu0 = cpuSeconds(broker.pid) ?? 0
    const result = await runLoad<FanoutResult>('fanout.ts', {
      url: broker.natsUrl, subject: 'bench.fanout', subscribers: o.fanoutSubscribers, messages: o.fanoutMessages, payloadBytes: o.payload, window: 2000
    } satisfies FanoutConfig, layout.load).result
    return { ...result, target, brokerCpuSeconds: (cpuSeconds(broker.pid) ?? cpu0) - cpu0 }
  } finally {
    await broker.stop()
  }
}

