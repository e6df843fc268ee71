import { describe, expect, it } from 'vitest'
import type { ScenarioResult } from './runner.ts'
import { scenario, step } from './scenario-fixture.ts'
import { MAX_RATE_TARGET, suiteVerdicts } from './suite-verdicts.ts'

const outcome = (
  verdicts: Array<{ check: string, outcome: string }>,
  start: string
): string | undefined => verdicts.find((v) => v.check.startsWith(start))?.outcome

describe('suite verdicts', () => {
  const slowPairs = (withP99: number[], withoutP99: number[]): ScenarioResult[] => withP99.flatMap((p99, i) => [
    scenario({ workload: 'slow-consumers', p99, slowStalenessUs: 40_000, peak: 102 * 2 ** 20 }),
    scenario({ workload: 'slow-consumers (baseline, no slow)', p99: withoutP99[i] as number })
  ])

  it('passes isolation when the slow subscribers leave the fast p99 alone, fails when they double it', () => {
    const ok = suiteVerdicts(slowPairs([5000, 5100, 4900], [5000, 5000, 4950]), [], { quick: false }).verdicts
    expect(outcome(ok, 'fast-subscriber p99')).toBe('PASS')
    expect(outcome(ok, 'slow subscribers\' staleness')).toBe('PASS')
    expect(outcome(ok, 'broker peak RSS')).toBe('PASS')
    const bad = suiteVerdicts(slowPairs([10_000, 10_500, 9_800], [5000, 5000, 4950]), [], { quick: false }).verdicts
    expect(outcome(bad, 'fast-subscriber p99')).toBe('FAIL')
  })

  it('leaves runs that were not valid out of the timing verdicts', () => {
    const runs = [...slowPairs([5000, 5100, 4900], [5000, 5000, 4950]), scenario({ workload: 'slow-consumers', p99: 1e7, valid: false })]
    expect(outcome(suiteVerdicts(runs, [], { quick: false }).verdicts, 'fast-subscriber p99')).toBe('PASS')
  })

  it('judges the maximum rate only on repetitions where both searches ended at a broker\'s limit', () => {
    const max = (target: string, deliveredRate: number | null) => ({ target, workload: 'max-throughput', workers: 1, rate: deliveredRate, deliveredRate })
    // One search per target and repetition: steps at 10k and 20k msgs/s to 2 subscribers.
    const brokerLimited = (target: 'tickfan' | 'nats-server') => [step(target, 10_000), step(target, 20_000, { p99: 500_000 })]
    const generatorLimited = (target: 'tickfan' | 'nats-server') => [step(target, 10_000), step(target, 20_000, { valid: false })]
    const rates = [max('tickfan', 20_000), max('nats-server', 20_000)]
    const three = suiteVerdicts([...brokerLimited('tickfan'), ...brokerLimited('nats-server'), ...brokerLimited('tickfan'), ...brokerLimited('nats-server'), ...brokerLimited('tickfan'), ...brokerLimited('nats-server')],
      [...rates, ...rates, ...rates], { quick: false }).verdicts
    expect(outcome(three, 'maximum')).toBe('PASS')
    const bounded = suiteVerdicts([...brokerLimited('tickfan'), ...generatorLimited('nats-server'), ...brokerLimited('tickfan'), ...brokerLimited('nats-server'), ...generatorLimited('tickfan'), ...brokerLimited('nats-server')],
      [...rates, ...rates, ...rates], { quick: false }).verdicts
    const v = bounded.find((x) => x.check.startsWith('maximum'))
    expect(v?.outcome).toBe('inconclusive')
    expect(v?.note).toMatch(/2 of 3 repetitions left out: a search ended where its load generator, not its broker, gave out/)
    expect(v?.note).toContain('--broker-cpu')
    const none = suiteVerdicts([...generatorLimited('tickfan'), ...generatorLimited('nats-server')], rates, { quick: false }).verdicts
    expect(outcome(none, 'maximum')).toBe('inconclusive')
  })

  it('counts a search whose last step\'s load gave out at the broker\'s cap as ended at the broker', () => {
    const max = (target: string) => ({ target, workload: 'max-throughput', workers: 1, rate: 10_000, deliveredRate: 20_000 })
    const gaveOut = (target: 'tickfan' | 'nats-server', capUsed: number): ScenarioResult[] => {
      const last = step(target, 20_000, { valid: false })
      return [step(target, 10_000), { ...last, broker: { ...last.broker, capUsed } }]
    }
    const rates = [max('tickfan'), max('nats-server')]
    const atCap = suiteVerdicts([0, 1, 2].flatMap(() => [...gaveOut('tickfan', 0.99), ...gaveOut('nats-server', 1)]), [...rates, ...rates, ...rates], { quick: false }).verdicts
    expect(outcome(atCap, 'maximum')).toBe('PASS')
    const below = suiteVerdicts([0, 1, 2].flatMap(() => [...gaveOut('tickfan', 0.99), ...gaveOut('nats-server', 0.9)]), [...rates, ...rates, ...rates], { quick: false }).verdicts
    expect(outcome(below, 'maximum')).toBe('inconclusive')
  })

  it('judges the maximum rate against nats-server\'s whole rate: 0.9 of it in every repetition fails', () => {
    const ended = (target: 'tickfan' | 'nats-server') => [step(target, 10_000), step(target, 20_000, { p99: 500_000 })]
    const runs = [0, 1, 2].flatMap(() => [...ended('tickfan'), ...ended('nats-server')])
    const max = (target: string, deliveredRate: number) => ({ target, workload: 'max-throughput', workers: 1, rate: deliveredRate / 2, deliveredRate, endedAt: 'broker' as const })
    const at = (share: number) => [0, 1, 2].flatMap(() => [max('tickfan', 20_000 * share), max('nats-server', 20_000)])
    const short = suiteVerdicts(runs, at(0.9), { quick: false }).verdicts.find((v) => v.check.startsWith('maximum'))
    expect(short?.outcome).toBe('FAIL')
    expect(short?.target).toBe(`>= ${MAX_RATE_TARGET}`)
    expect(outcome(suiteVerdicts(runs, at(1), { quick: false }).verdicts, 'maximum')).toBe('PASS')
  })

  it('takes why a search ended from the search itself where it says: refined searches fall in rate', () => {
    // 10,000 sustained, 20,000 not (the broker), then a refinement at 15,000 the load could not drive.
    const refined = (target: 'tickfan' | 'nats-server'): ScenarioResult[] =>
      [step(target, 10_000), step(target, 20_000, { p99: 500_000 }), step(target, 15_000, { valid: false })]
    const runs = [0, 1, 2].flatMap(() => [...refined('tickfan'), ...refined('nats-server')])
    const max = (target: string) => ({ target, workload: 'max-throughput', workers: 1, rate: 10_000, deliveredRate: 20_000 })
    const unsaid = [0, 1, 2].flatMap(() => [max('tickfan'), max('nats-server')])
    expect(outcome(suiteVerdicts(runs, unsaid, { quick: false }).verdicts, 'maximum')).toBe('inconclusive')
    const said = unsaid.map((m) => ({ ...m, endedAt: 'broker' as const }))
    expect(outcome(suiteVerdicts(runs, said, { quick: false }).verdicts, 'maximum')).toBe('PASS')
  })

  it('judges fairness per worker count, and the publisher\'s worker\'s share of first places', () => {
    const unfair = [0, 1, 2].map(() => scenario({ workload: 'fairness', workers: 2, jain: 0.61, byWorker: [{ worker: 0, subscribers: 25, subscriberShare: 0.5, firstShare: 0.87 }, { worker: 1, subscribers: 25, subscriberShare: 0.5, firstShare: 0.13 }] }))
    const fair = [0, 1, 2].map(() => scenario({ workload: 'fairness', workers: 1, jain: 0.97 }))
    const v = suiteVerdicts([...fair, ...unfair], [], { quick: false }).verdicts
    expect(outcome(v, 'Jain\'s index of first places over 50 subscribers, 1 worker')).toBe('PASS')
    expect(outcome(v, 'Jain\'s index of first places over 50 subscribers, 2 workers')).toBe('FAIL')
    expect(outcome(v, 'first places won by subscribers on the publisher\'s worker')).toBe('FAIL')
  })

  it('judges fan-out tails against nats-server in the same run: a planted doubling fails, equal tails pass', () => {
    const runs = (tickfanP99: number[], natsP99: number[]): ScenarioResult[] => [
      ...tickfanP99.map((p99) => scenario({ workload: 'wide-fanout', p99 })),
      ...natsP99.map((p99) => scenario({ workload: 'wide-fanout', target: 'nats-server', p99 }))
    ]
    const check = 'fast p99, tickfan / nats-server, 100 msgs/s to 1,000 connections'
    const nats = [10_000, 10_200, 9_900, 10_100, 9_800]
    const judge = { quick: false, random: () => 0.5 }
    const doubled = suiteVerdicts(runs([20_000, 21_000, 19_000, 20_500, 19_500], nats), [], judge)
    expect(outcome(doubled.verdicts, check)).toBe('FAIL')
    const equal = suiteVerdicts(runs([10_000, 10_100, 9_900, 10_050, 9_950], nats), [], judge)
    expect(outcome(equal.verdicts, check)).toBe('PASS')
    const one = suiteVerdicts(runs([10_000], [10_000]), [], { quick: false })
    expect(outcome(one.verdicts, check)).toBe('inconclusive')
    expect(outcome(one.verdicts, 'fast p99, tickfan / nats-server, 1k msgs/s')).toBeUndefined()
  })

  it('keeps a fan-out tail\'s line when runs of it were invalid, saying how many were left out', () => {
    const check = 'fast p99, tickfan / nats-server, 100 msgs/s to 1,000 connections'
    const run = (target: 'tickfan' | 'nats-server', valid: boolean): ScenarioResult =>
      scenario({ workload: 'wide-fanout', target, p99: 10_000, valid })
    const none = suiteVerdicts([0, 1, 2].flatMap(() => [run('tickfan', false), run('nats-server', false)]), [], { quick: false })
    const v = none.verdicts.find((x) => x.check === check)
    expect(v?.outcome).toBe('inconclusive')
    expect(v?.value).toBeNull()
    expect(v?.note).toContain('6 of 6 runs invalid and left out')
    const some = suiteVerdicts([0, 1, 2, 3].flatMap((i) => [run('tickfan', i > 0), run('nats-server', true)]), [], { quick: false, random: () => 0.5 })
    const w = some.verdicts.find((x) => x.check === check)
    expect(w?.outcome).toBe('PASS')
    expect(w?.note).toContain('1 of 8 runs invalid and left out')
  })

  it('shows timing targets on a quick run without judging them, and judges facts on every valid run', () => {
    const v = suiteVerdicts([...slowPairs([5000, 5100, 4900], [5000, 5000, 4950]), scenario({ workload: 'steady', tradeLoss: 3 })], [], { quick: true }).verdicts
    expect(outcome(v, 'fast-subscriber p99')).toBe('inconclusive')
    expect(outcome(v, 'trade loss')).toBe('FAIL')
  })
})
