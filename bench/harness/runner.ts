/**
 * Runs one scenario: a workload at one offered rate against one target with one worker count.
 * Broker, subscriber groups and publisher are separate processes (pinned apart from the broker
 * where the machine has cores). Returns raw results plus the derived metrics.
 */
import { decodeHistogram, encodeHistogram, newHistogram, summarize, type LatencySummary } from '../../lib/histogram.ts'
import { sampleMemory, type MemorySeries } from './memory.ts'
import { conflationRatio, fairness, tradeLoss, windowStartLatency, wrongFinalValues, type FairnessResult } from './metrics.ts'
import { capShareUsed, type CpuCap } from './cpu-cap.ts'
import { cpuSecondsWithin, sampleCpu } from './cpu-window.ts'
import { machineLoad, otherProcessesCpuSeconds } from './machine.ts'
import { runValidity } from './run-validity.ts'
import { coreCount, coreLayout, cpuNanoseconds, cpuSeconds, runLoad, startNatsServerProcess, startTickfanProcess, TICKFAN_HISTORY, type BrokerProcess } from './processes.ts'
import type { ChildProcess } from 'node:child_process'
import type { PublisherConfig, PublisherResult } from '../load/publisher.ts'
import { scheduleFor, type ScheduleConfig } from '../load/schedule.ts'
import type { MeasuredWindow, SubscriberGroupConfig, SubscriberGroupResult } from '../load/subscriber-group.ts'
import type { Workload } from '../workload.ts'

export type TargetName = 'tickfan' | 'nats-server'

export interface ScenarioResult {
  target: TargetName
  workload: string
  workers: number
  offeredRate: number
  valid: boolean
  invalidReason: string | null
  publishedRate: number
  deliveredRate: number
  /** Deliveries per second, summed over subscribers, per second of the run. */
  deliveredPerSecond: number[]
  publishedPerSecond: number[]
  fast: {
    latencyUs: LatencySummary,
    uncorrectedUs: LatencySummary,
    stalenessUs: LatencySummary,
    latencyHistogram: string,
    uncorrectedHistogram: string,
    stalenessHistogram: string,
    /**
     * How late the window's first message reached the fast subscriber that got it latest (us;
     * metrics.ts windowStartLatency): the backlog the warm-up left. Absent in results from
     * before it was measured.
     */
    windowStartLatencyUs?: number | null
  }
  slow: { latencyUs: LatencySummary, stalenessUs: LatencySummary, stalenessHistogram: string } | null
  tradeLoss: number
  wrongFinalValues: number
  slowWrongFinalValues: number
  orderViolations: number
  conflationRatio: number
  slowConflationRatio: number
  fairness: FairnessResult
  broker: {
    /** The broker's CPU over the whole run (warm-up and settling included) per delivery in it. */
    cpuSecondsPerMillionDeliveries: number
    /**
     * The broker's CPU within the measured window per delivery of a message sent in it
     * (cpu-window.ts): what a warm broker spends, its start-up left out; null where not sampled.
     */
    windowCpuSecondsPerMillionDeliveries: number | null
    /**
     * Under a CPU cap, the share of it the broker used in the measured window (capShareUsed: near
     * 1, its CPU per delivery is the cap over its rate, not its cost); null uncapped or unsampled.
     * Absent in reports written before it was measured.
     */
    capUsed?: number | null
    memory: MemorySeries
    /** From /varz where the target reports it. */
    socketWritesPerDelivery: number | null
    /** Bytes written per delivery, protocol included (tickfan's /varz wire_out_bytes; null for nats-server). */
    bytesPerDelivery: number | null
    slowConsumerDisconnects: number
    eventLoopDelayP99Ms: number | null
    /**
     * Times a connection started conflating during the measured window (tickfan's /varz
     * conflation_starts, by cause; null for nats-server). Above zero with only fast readers:
     * the broker's flow control judged a reader behind that was not.
     */
    conflationStarts?: Record<string, number> | null
    /**
     * Messages the broker's history streams took in during the run (tickfan's /varz history,
     * nats-server's JetStream /jsz, by their last sequences); null where it keeps none (absent in
     * results from before it was counted).
     */
    historyTaken?: number | null
    /**
     * True where the run measured a broker an earlier step of its search had left running
     * (kept-broker.ts), false where the broker was started for it (absent in results from before
     * searches kept their broker).
     */
    kept?: boolean
  }
  /**
   * The publisher's health. waitedForBrokerSeconds: time it waited for its socket to drain, the
   * broker reading slower than the schedule; ownPublishDelayUs: the delay of the messages that
   * wait did not hold up (both absent in results from before they were measured).
   */
  publisher: {
    publishDelayUs: LatencySummary
    cpuSeconds: number
    waitedForBrokerSeconds?: number
    ownPublishDelayUs?: LatencySummary
  }
  /** The broker worker the publisher was on. */
  publisherWorker: number
  /** CPU the subscriber processes used (the load generator's own cost, on the load cores). */
  subscriberCpuSeconds: { fast: number, slow: number }
  /**
   * The load generators' busy share of the cores they run on (publisher and fast subscribers;
   * slow ones are blocked, not busy). Past GENERATOR_BUSY_MAX (run-validity.ts) the run
   * measured its generators, not the broker, and is invalid. So is a run where any one generator
   * process was busier than that on its own core (busiestGenerator), which the mean would hide.
   */
  generatorBusy: number
  /** The busiest single generator process's share of one core. */
  busiestGenerator?: number
  /** What else ran on the machine meanwhile: other processes' CPU, in cores, and the load average. */
  machine: { otherCores: number, loadAverage1m: number, stealShare: number }
}

export async function startTarget (
  target: TargetName,
  workers: number,
  cpus: string | undefined,
  /** Node flags for a tickfan broker (such as --cpu-prof); nats-server takes none. */
  tickfanNodeFlags: string[] = [],
  /** The CPU cap either broker runs under (the suite's --broker-cpu). */
  cap?: CpuCap,
  /** nats-server keeps tickfan's history streams in JetStream (the suite's --nats-history). */
  natsHistory = false
): Promise<BrokerProcess> {
  return target === 'tickfan'
    ? startTickfanProcess(cpus, [], workers, undefined, tickfanNodeFlags, cap)
    : startNatsServerProcess(cpus, workers, undefined, cap, natsHistory ? TICKFAN_HISTORY : [])
}

type Counts = Record<string, number>

export interface Varz {
  out_msgs: number,
  out_bytes: number,
  slow_consumers: number,
  tickfan?: {
    socket_writes: number
    wire_out_bytes?: number
    event_loop_delay_p99_ms?: number
    conflation_starts?: Counts
    history?: { streams: Array<{ last_seq: number }> } | null
  }
}

/** nats-server's /jsz?streams=true, as far as it is read here. */
interface Jsz {
  account_details?: Array<{ stream_detail?: Array<{ state: { last_seq: number } }> }>
}

/**
 * The last sequences of a broker's history streams, summed (null where it keeps none): tickfan's
 * from its /varz, nats-server's from JetStream's /jsz.
 */
export async function historySequence (broker: BrokerProcess, v: Varz | null): Promise<number | null> {
  if (broker.name === 'tickfan') {
    const streams = v?.tickfan?.history?.streams
    return streams === undefined || streams.length === 0 ? null : streams.reduce((n, s) => n + s.last_seq, 0)
  }
  try {
    const jsz = await (await fetch(`http://127.0.0.1:${broker.httpPort}/jsz?streams=true`)).json() as Jsz
    const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? [])
    return streams.length === 0 ? null : streams.reduce((n, s) => n + s.state.last_seq, 0)
  } catch {
    return null
  }
}

/** What each count of `after` grew by since `before` (null when the target does not report it). */
function countsBetween (before: Counts | undefined, after: Counts | undefined): Counts | null {
  if (after === undefined) return null
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before?.[k] ?? 0)]))
}

function wireBytesPerDelivery (before: Varz | null, after: Varz | null, deliveries: number): number | null {
  const b = before?.tickfan?.wire_out_bytes
  const a = after?.tickfan?.wire_out_bytes
  return a === undefined || b === undefined || deliveries === 0 ? null : (a - b) / deliveries
}

async function varz (broker: BrokerProcess): Promise<Varz | null> {
  try {
    return await (await fetch(`http://127.0.0.1:${broker.httpPort}/varz`)).json() as Varz
  } catch {
    return null
  }
}

function merge (hists: readonly string[]): { summary: LatencySummary, encoded: string } {
  const h = newHistogram()
  for (const e of hists) h.add(decodeHistogram(e))
  return { summary: summarize(h), encoded: encodeHistogram(h) }
}

function sumSeries (series: readonly number[][]): number[] {
  const out: number[] = []
  for (const s of series) s.forEach((v, i) => { out[i] = (out[i] ?? 0) + v })
  return Array.from(out, (v) => v ?? 0)
}

export interface ScenarioOptions {
  /** Leave the slow subscribers out (the isolation baseline). */
  withoutSlow?: boolean
  /** How long deliveries may settle after the publisher stops, before final values are read (ms). */
  settleMs?: number
  onProgress?: (text: string) => void
  /** Node flags for a tickfan broker (the suite's --profile passes --cpu-prof). */
  tickfanNodeFlags?: string[]
  /** The CPU cap the broker runs under (the suite's --broker-cpu). */
  brokerCap?: CpuCap
  /** nats-server keeps tickfan's history streams in JetStream (the suite's --nats-history). */
  natsHistory?: boolean
  /**
   * A broker already running to measure (a search's kept broker, kept-broker.ts), left running
   * after the run; without it the run starts its own and stops it.
   */
  broker?: BrokerProcess
  /** With `broker`: it was started for this run (a search's first step, or one after a death). */
  brokerFresh?: boolean
}

/**
 * A target that dies mid-run fails the scenario at once, saying so (the suite reports it and
 * goes on). However a scenario ends, what it started ends with it: load processes still running
 * are killed, samplers stopped.
 */
export async function runScenario (
  target: TargetName,
  w: Workload,
  rate: number,
  workers: number,
  options: ScenarioOptions = {}
): Promise<ScenarioResult> {
  const layout = coreLayout()
  const { tickfanNodeFlags, brokerCap, natsHistory } = options
  const broker = options.broker ??
    await startTarget(target, workers, layout.broker, tickfanNodeFlags, brokerCap, natsHistory)
  const atEnd: Array<() => void> = []
  const died = broker.died.then((how): never => { throw new Error(`${target} died mid-run (${how})`) })
  try {
    return await Promise.race([measure(target, w, rate, workers, options, layout, broker, atEnd), died])
  } catch (err) {
    // A load process that failed because the target died (its connection closed) says less
    // than the death itself: given a moment to show, the death is what is reported.
    const failure = new Promise((resolve) => setTimeout(() => resolve(err), 1000))
    throw await Promise.race([died.catch((death: unknown) => death), failure])
  } finally {
    for (const end of atEnd) end()
    if (options.broker === undefined) await broker.stop()
  }
}

let keptRuns = 0

/**
 * The subjects' second token for a run: `bench` on a broker started for it; on a broker an
 * earlier step left running, a space of the run's own, as long as `bench` (b0001, b0002, ...),
 * so that no value the broker keeps from a step before (its last-value cache, its trade history)
 * reaches this run's subscribers as a snapshot.
 */
export function subjectSpace (keptBroker: boolean): string {
  return keptBroker ? `b${(++keptRuns).toString(36).padStart(4, '0')}` : 'bench'
}

async function measure (
  target: TargetName,
  w: Workload,
  rate: number,
  workers: number,
  options: ScenarioOptions,
  layout: ReturnType<typeof coreLayout>,
  broker: BrokerProcess,
  atEnd: Array<() => void>
): Promise<ScenarioResult> {
  const started = (child: ChildProcess): void => { atEnd.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }) }
  const space = subjectSpace(options.broker !== undefined && options.brokerFresh !== true)
  const slowCount = options.withoutSlow === true ? 0 : Math.round(w.subscribers * w.slowFraction)
  const fastCount = w.subscribers - Math.round(w.subscribers * w.slowFraction)
  const slowProcesses = slowCount > 0 ? Math.max(1, Math.round(w.subscriberProcesses * w.slowFraction)) : 0
  const fastProcesses = Math.max(1, w.subscriberProcesses - slowProcesses)
  const groups: Array<{ result: Promise<SubscriberGroupResult>, child: ReturnType<typeof runLoad>['child'] }> = []
  // Warm-up by sequence: the first message the publisher meant to send after the warm-up.
  // One schedule, the publisher's: the config it is given is this one's.
  const scheduleConfig: ScheduleConfig & { rampMs: number } = {
    ratePerSec: rate,
    burstEveryMs: w.burstEveryMs,
    burstMs: w.burstMs,
    burstFactor: w.burstFactor,
    rampMs: w.warmupRampSeconds * 1000
  }
  const schedule = scheduleFor(scheduleConfig)
  let warmupSeq = 0
  while (schedule(warmupSeq) < w.warmupSeconds * 1e9) warmupSeq++
  let index = 0
  const readies: Array<Promise<void>> = []
  const spawnGroups = (count: number, processes: number, slow: boolean): void => {
    for (let p = 0; p < processes; p++) {
      const connections = Math.floor(count / processes) + (p < count % processes ? 1 : 0)
      if (connections === 0) continue
      let ready!: () => void
      readies.push(new Promise((resolve) => { ready = resolve }))
      const config: SubscriberGroupConfig = {
        url: broker.natsUrl, group: `${slow ? 'slow' : 'fast'}-${p}`, connections, firstIndex: index,
        slow: slow ? w.slow : null, warmupSeq, sampleEvery: w.fairnessSampleEvery, space
      }
      index += connections
      const onReady = (m: unknown): void => { if ((m as { type: string }).type === 'ready') ready() }
      const group = runLoad<SubscriberGroupResult>('subscriber-group.ts', config, slow ? layout.background : layout.load, onReady, { background: slow })
      started(group.child)
      groups.push(group)
    }
  }
  spawnGroups(fastCount, fastProcesses, false)
  spawnGroups(slowCount, slowProcesses, true)
  await Promise.race([Promise.all(readies), ...groups.map(async (g) => { await g.result; throw new Error('a subscriber group exited before it was ready') })])

  const varz0 = await varz(broker)
  const history0 = await historySequence(broker, varz0)
  const cpu0 = cpuSeconds(broker.pid) ?? 0
  const machine0 = machineLoad()
  const others0 = otherProcessesCpuSeconds([process.pid])
  const wall0 = Date.now()
  const memory = sampleMemory(broker.pid, 250)
  atEnd.push(() => { memory.stop() })
  const cpuSamples = sampleCpu(() => cpuNanoseconds(broker.pid))
  atEnd.push(() => { cpuSamples.stop() })
  const durationMs = (w.warmupSeconds + w.durationSeconds) * 1000
  options.onProgress?.(`${target} ${w.name} ${rate.toLocaleString('en-US')} msgs/s${workers > 1 ? ` x${workers} workers` : ''}: running ${(durationMs / 1000).toFixed(0)} s`)
  const publisherRun = runLoad<PublisherResult>('publisher.ts', {
    url: broker.natsUrl,
    subjects: w.subjects,
    tradeRatio: w.tradeRatio,
    ...scheduleConfig,
    payloadBytes: w.payloadBytes,
    durationMs,
    space
  } satisfies PublisherConfig, layout.load)
  started(publisherRun.child)
  const publisher = await publisherRun.result
  // The measured window: from the end of the warm-up to the last intended send.
  const windowNs = {
    from: BigInt(publisher.startNs) + BigInt(w.warmupSeconds * 1e9),
    to: BigInt(publisher.startNs) + BigInt(durationMs * 1e6)
  }
  for (const g of groups) g.child.send({ type: 'published', fromNs: windowNs.from.toString(), toNs: windowNs.to.toString() } satisfies MeasuredWindow)
  // Let deliveries settle: slow subscribers need time to catch up to the newest values.
  await new Promise((r) => setTimeout(r, options.settleMs ?? (slowCount > 0 ? 4000 : 1500)))
  const mem = memory.stop()
  const cpu = (cpuSeconds(broker.pid) ?? cpu0) - cpu0
  const windowCpu = cpuSecondsWithin(cpuSamples.stop(), windowNs.from, windowNs.to)
  const machine1 = machineLoad()
  const elapsedSeconds = (Date.now() - wall0) / 1000
  const otherCores = Math.max(0, otherProcessesCpuSeconds([process.pid]) - others0) / elapsedSeconds
  const varz1 = await varz(broker)
  const history1 = await historySequence(broker, varz1)
  for (const g of groups) g.child.send({ type: 'stop' })
  const results = await Promise.all(groups.map((g) => g.result))

  const fastGroups = results.filter((r) => !r.slow)
  const slowGroups = results.filter((r) => r.slow)
  const fastConns = fastGroups.flatMap((g) => g.connections)
  const slowConns = slowGroups.flatMap((g) => g.connections)
  const allConns = [...fastConns, ...slowConns]
  const deliveries = allConns.reduce((n, c) => n + c.received, 0)
  const measuredSeconds = durationMs / 1000
  const windowSeconds = Number(windowNs.to - windowNs.from) / 1e9
  const deliveredInWindow = results.reduce((n, r) => n + r.receivedInWindow, 0)
  const latency = merge(fastGroups.map((g) => g.latencyHistogram))
  const uncorrected = merge(fastGroups.map((g) => g.uncorrectedHistogram))
  const staleness = merge(fastGroups.map((g) => g.stalenessHistogram))
  const slowLatency = merge(slowGroups.map((g) => g.latencyHistogram))
  const slowStaleness = merge(slowGroups.map((g) => g.stalenessHistogram))
  const outMsgs = varz0 !== null && varz1 !== null ? varz1.out_msgs - varz0.out_msgs : 0
  const health = runValidity({
    measuredSeconds,
    publisher: { ...publisher, ownPublishDelayP99Us: publisher.ownPublishDelayUs.p99 },
    subscriberBusyShares: fastGroups.map((g) => g.busyShare),
    loadCores: layout.load === undefined ? layout.cores : coreCount(layout.load),
    otherCores
  })
  return {
    target,
    workload: w.name,
    workers,
    offeredRate: rate,
    valid: health.valid,
    invalidReason: health.invalidReason,
    publishedRate: publisher.published / measuredSeconds,
    deliveredRate: deliveredInWindow / windowSeconds,
    deliveredPerSecond: sumSeries(results.map((r) => r.perSecond)),
    publishedPerSecond: publisher.perSecond,
    fast: {
      latencyUs: latency.summary,
      uncorrectedUs: uncorrected.summary,
      stalenessUs: staleness.summary,
      latencyHistogram: latency.encoded,
      uncorrectedHistogram: uncorrected.encoded,
      stalenessHistogram: staleness.encoded,
      windowStartLatencyUs: windowStartLatency(fastConns)
    },
    slow: slowGroups.length === 0 ? null : {
      latencyUs: slowLatency.summary,
      stalenessUs: slowStaleness.summary,
      stalenessHistogram: slowStaleness.encoded
    },
    tradeLoss: tradeLoss(fastConns, publisher.trades),
    wrongFinalValues: wrongFinalValues(fastConns, publisher.lastSeq),
    slowWrongFinalValues: wrongFinalValues(slowConns, Object.fromEntries(Object.entries(publisher.lastSeq).filter(([s]) => s.startsWith('quote.')))),
    orderViolations: allConns.reduce((n, c) => n + c.orderViolations, 0),
    conflationRatio: conflationRatio(fastConns),
    slowConflationRatio: conflationRatio(slowConns),
    fairness: fairness(fastConns),
    broker: {
      cpuSecondsPerMillionDeliveries: deliveries === 0 ? 0 : cpu / deliveries * 1e6,
      windowCpuSecondsPerMillionDeliveries:
        windowCpu === null || deliveredInWindow === 0 ? null : windowCpu / deliveredInWindow * 1e6,
      capUsed: capShareUsed(windowCpu, windowSeconds, options.brokerCap?.share),
      memory: mem,
      socketWritesPerDelivery: varz0?.tickfan !== undefined && varz1?.tickfan !== undefined && outMsgs > 0
        ? (varz1.tickfan.socket_writes - varz0.tickfan.socket_writes) / outMsgs
        : null,
      // Bytes on the wire, protocol included (tickfan's own count: out_bytes, as nats-server's, is payloads only).
      bytesPerDelivery: wireBytesPerDelivery(varz0, varz1, outMsgs),
      slowConsumerDisconnects: varz1 === null ? 0 : varz1.slow_consumers - (varz0?.slow_consumers ?? 0),
      eventLoopDelayP99Ms: varz1?.tickfan?.event_loop_delay_p99_ms ?? null,
      conflationStarts: countsBetween(varz0?.tickfan?.conflation_starts, varz1?.tickfan?.conflation_starts),
      historyTaken: history0 === null || history1 === null ? null : history1 - history0,
      kept: space !== 'bench'
    },
    publisher: {
      publishDelayUs: publisher.publishDelayUs,
      cpuSeconds: publisher.cpuSeconds,
      waitedForBrokerSeconds: publisher.waitedForBrokerSeconds,
      ownPublishDelayUs: publisher.ownPublishDelayUs
    },
    publisherWorker: publisher.worker,
    subscriberCpuSeconds: {
      fast: fastGroups.reduce((n, g) => n + g.cpuSeconds, 0),
      slow: slowGroups.reduce((n, g) => n + g.cpuSeconds, 0)
    },
    generatorBusy: health.generatorBusy,
    busiestGenerator: health.busiestGenerator,
    machine: { otherCores, loadAverage1m: machine1.loadAverage1m, stealShare: machineLoad.steal(machine0, machine1) }
  }
}
