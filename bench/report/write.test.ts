import { describe, expect, it } from 'vitest'
import { scenario } from '../harness/scenario-fixture.ts'
import { summaryMarkdown, type SuiteResults } from './write.ts'

/** A run with no scenarios: only its header differs with the options given. */
function emptyRun (options: Record<string, unknown>): SuiteResults {
  return {
    environment: { date: '2026-11-30', commit: 'abc', node: 'v20', cpu: 'cpu', cores: 2, natsServer: 'v2.9.10', quick: false, options },
    scenarios: [],
    verdicts: [],
    maxSustained: [],
    http: [],
    notes: [],
    failures: []
  }
}

describe('summaryMarkdown header', () => {
  it('names a CPU cap, and its period only where it is not the 10 ms default', () => {
    const header = (options: Record<string, unknown>): string => summaryMarkdown(emptyRun(options)).split('\n')[2] as string
    expect(header({ brokerCpu: 0 })).toMatch(/full run$/)
    expect(header({ brokerCpu: 0.25 })).toMatch(/full run; each broker capped at 0.25 of one core$/)
    expect(header({ brokerCpu: 0.25, brokerCpuPeriodMs: 10 })).toMatch(/capped at 0.25 of one core$/)
    expect(header({ brokerCpu: 0.25, brokerCpuPeriodMs: 100 })).toMatch(/capped at 0.25 of one core per 100 ms$/)
  })

  it('says when nats-server kept the trades too (--nats-history)', () => {
    const header = (options: Record<string, unknown>): string => summaryMarkdown(emptyRun(options)).split('\n')[2] as string
    expect(header({ brokerCpu: 0.25, natsHistory: true })).toMatch(/of one core; nats-server kept the trades in JetStream \(--nats-history\)$/)
    expect(header({ natsHistory: false })).toMatch(/full run$/)
  })
})

describe('summaryMarkdown scenarios', () => {
  it('gives the broker\'s CPU per delivery over the whole run and over the measured window, or - where not sampled', () => {
    const sampled = scenario({ workload: 'steady' })
    sampled.broker.windowCpuSecondsPerMillionDeliveries = 0.58
    const unsampled = scenario({ workload: 'steady', target: 'nats-server' })
    const lines = summaryMarkdown({ ...emptyRun({}), scenarios: [sampled, unsampled] }).split('\n')
    const header = lines.find((l) => l.startsWith('| target | scenario |')) as string
    const column = header.split('|').findIndex((c) => c.trim() === 'CPU s / M deliveries, run / window')
    expect(column).toBeGreaterThan(0)
    const cells = lines.filter((l) => l.startsWith('| tickfan |') || l.startsWith('| nats-server |')).map((l) => (l.split('|')[column] as string).trim())
    expect(cells).toEqual(['1.00 / 0.58', '1.00 / -'])
  })

  it('says, under a CPU cap, how much of its cap each broker used in the window', () => {
    const atCap = scenario({ workload: 'max-throughput' })
    atCap.broker.windowCpuSecondsPerMillionDeliveries = 1.22
    atCap.broker.capUsed = 0.976
    const below = scenario({ workload: 'max-throughput', target: 'nats-server' })
    below.broker.windowCpuSecondsPerMillionDeliveries = 3.25
    below.broker.capUsed = 0.65
    const lines = summaryMarkdown({ ...emptyRun({}), scenarios: [atCap, below] }).split('\n')
    const header = lines.find((l) => l.startsWith('| target | scenario |')) as string
    const column = header.split('|').findIndex((c) => c.trim() === 'CPU s / M deliveries, run / window')
    const cells = lines.filter((l) => l.startsWith('| tickfan |') || l.startsWith('| nats-server |')).map((l) => (l.split('|')[column] as string).trim())
    expect(cells).toEqual(['1.00 / 1.22, 98% of its cap', '1.00 / 3.25, 65% of its cap'])
  })
})
