/** A made-up ScenarioResult for the pure tests of what the suite does with its runs (its verdicts, its searches). */
import type { SuiteResults } from '../report/write.ts'
import type { KeptRun } from './pool-runs.ts'
import type { ScenarioResult } from './runner.ts'
import type { MaxSustained } from './suite-verdicts.ts'

const summary = (p99: number) => ({
  count: 1,
  p50: p99 / 2,
  p90: p99,
  p99,
  p999: p99,
  p9999: p99,
  max: p99,
  mean: p99 / 2
})

export function scenario (o: { workload: string, target?: 'tickfan' | 'nats-server', workers?: number, p99?: number, slowStalenessUs?: number, peak?: number, jain?: number, valid?: boolean, byWorker?: ScenarioResult['fairness']['byWorker'], tradeLoss?: number }): ScenarioResult {
  return {
    target: o.target ?? 'tickfan',
    workload: o.workload,
    workers: o.workers ?? 1,
    offeredRate: 1000,
    valid: o.valid ?? true,
    invalidReason: o.valid === false ? 'the machine was not quiet' : null,
    publishedRate: 1000,
    deliveredRate: 1000,
    deliveredPerSecond: [],
    publishedPerSecond: [],
    fast: { latencyUs: summary(o.p99 ?? 1000), uncorrectedUs: summary(0), stalenessUs: summary(0), latencyHistogram: '', uncorrectedHistogram: '', stalenessHistogram: '' },
    slow: o.slowStalenessUs === undefined ? null : { latencyUs: summary(0), stalenessUs: summary(o.slowStalenessUs), stalenessHistogram: '' },
    tradeLoss: o.tradeLoss ?? 0,
    wrongFinalValues: 0,
    slowWrongFinalValues: 0,
    orderViolations: 0,
    conflationRatio: 0,
    slowConflationRatio: 0,
    fairness: {
      messages: 6000,
      spreadUs: { p50: 0, p99: 0, max: 0 },
      firstShare: new Array<number>(50).fill(0.02),
      meanRank: [],
      jainFirstPlaces: o.jain ?? 1,
      rankConnectOrderCorrelation: 0,
      byWorker: o.byWorker ?? []
    },
    broker: { cpuSecondsPerMillionDeliveries: 1, windowCpuSecondsPerMillionDeliveries: null, memory: { peakBytes: o.peak ?? 100 * 2 ** 20 } as ScenarioResult['broker']['memory'], socketWritesPerDelivery: null, bytesPerDelivery: null, slowConsumerDisconnects: 0, eventLoopDelayP99Ms: null },
    publisher: { publishDelayUs: summary(0), cpuSeconds: 0 },
    publisherWorker: 0,
    subscriberCpuSeconds: { fast: 0, slow: 0 },
    generatorBusy: 0.3,
    machine: { otherCores: 0, loadAverage1m: 0, stealShare: 0 }
  }
}

/** A step of a max-throughput search at `rate` msgs/s to 2 subscribers, delivered in full. */
export function step (target: 'tickfan' | 'nats-server', rate: number, o: { valid?: boolean, p99?: number } = {}): ScenarioResult {
  const s = scenario({ workload: 'max-throughput', target, valid: o.valid ?? true, p99: o.p99 ?? 1000 })
  return {
    ...s,
    offeredRate: rate,
    publishedRate: rate,
    deliveredRate: 2 * rate,
    fairness: { ...s.fairness, firstShare: [0.5, 0.5] }
  }
}

export const SETUP_NOTE = 'Each broker ran capped at 0.25 of one core.'

/**
 * A kept suite run (what bench:rejudge reads) of max-throughput searches: tickfan's maxima, then
 * nats-server's (msgs/s), every search ended at its broker.
 */
export function keptRun (
  name: string,
  tickfan: number[],
  nats: number[],
  o: { node?: string, brokerCpu?: number, repeat?: number, endedAt?: boolean, commit?: string } = {}
): KeptRun {
  const max = (target: string, rate: number): MaxSustained => ({
    target,
    workload: 'max-throughput',
    workers: 1,
    rate,
    deliveredRate: 2 * rate,
    ...(o.endedAt === false ? {} : { endedAt: 'broker' as const })
  })
  const results: SuiteResults = {
    environment: {
      date: `2026-12-02T1${name.length}:00:00.000Z`,
      commit: o.commit ?? `commit-of-${name}`,
      node: o.node ?? 'v20.20.2',
      cores: 2,
      options: { workloads: ['max-throughput'], brokerCpu: o.brokerCpu ?? 0.25, repeat: o.repeat ?? tickfan.length, out: `/tmp/${name}`, stamp: name }
    },
    scenarios: [],
    maxSustained: [...tickfan.map((r) => max('tickfan', r)), ...nats.map((r) => max('nats-server', r))],
    http: [],
    verdicts: [],
    notes: [SETUP_NOTE, `Not judged for loss and final values: a step of ${name}.`],
    failures: []
  }
  return { name, results }
}
