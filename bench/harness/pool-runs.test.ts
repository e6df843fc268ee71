import { describe, expect, it } from 'vitest'
import { summaryMarkdown, type SuiteResults } from '../report/write.ts'
import { poolRuns, PoolError } from './pool-runs.ts'
import { keptRun as run, SETUP_NOTE } from './scenario-fixture.ts'
import { suiteVerdicts } from './suite-verdicts.ts'

/** A seeded generator, so that bootstrap intervals are the same on every run of the test. */
function seeded (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const maxRate = (r: SuiteResults): { value: number | null, outcome: string } => {
  const v = suiteVerdicts(r.scenarios, r.maxSustained, { quick: false, random: seeded(7) }).verdicts
    .find((x) => x.check.startsWith('maximum sustained'))
  if (v === undefined) throw new Error('no maximum-rate verdict')
  return { value: v.value, outcome: v.outcome }
}

describe('poolRuns', () => {
  it('pairs each search only with the other target\'s search of the same run', () => {
    // Run a has one nats-server search more than tickfan's: concatenated as they stand, b's
    // searches would each meet the search of the repetition before.
    const pooled = poolRuns([run('a', [100_000], [50_000, 60_000]), run('b', [90_000, 95_000], [100_000, 100_000])])
    const of = (target: string): Array<number | null> =>
      pooled.maxSustained.filter((m) => m.target === target).map((m) => m.rate)
    expect(of('tickfan')).toEqual([100_000, 90_000, 95_000])
    expect(of('nats-server')).toEqual([50_000, 100_000, 100_000])
    // Ratios 2.0, 0.9 and 0.95: the median is 0.95.
    expect(maxRate(pooled).value).toBeCloseTo(0.95, 6)
  })

  it('resolves what no run of five repetitions alone can: a known ratio of about 1.25', () => {
    // One search in five, in each run, ended low (a chance tail): alone, each run's interval
    // reaches below 1.0; the fifteen together resolve the ratio above it.
    const nats = [100_000, 100_000, 100_000, 100_000, 100_000]
    const runs = [
      run('first', [130_000, 125_000, 95_000, 135_000, 120_000], nats),
      run('second', [125_000, 140_000, 115_000, 90_000, 130_000], nats),
      run('third', [97_000, 120_000, 135_000, 125_000, 118_000], nats)
    ]
    for (const r of runs) expect(maxRate(r.results).outcome).toBe('inconclusive')
    const pooled = maxRate(poolRuns(runs))
    expect(pooled.outcome).toBe('PASS')
    expect(pooled.value).toBeCloseTo(1.25, 6)
  })

  it('refuses runs that differ in what shapes a measurement, naming it', () => {
    expect(() => poolRuns([run('a', [1], [1]), run('b', [1], [1], { node: 'v22.23.5' })]))
      .toThrow(/b is not the experiment a is: node "v20.20.2" against "v22.23.5"/)
    expect(() => poolRuns([run('a', [1], [1]), run('b', [1], [1], { brokerCpu: 0.5 })]))
      .toThrow(/option brokerCpu 0.25 against 0.5/)
  })

  it('pools runs that differ only in their repetitions, date, commit and report folder, and counts the repetitions', () => {
    const pooled = poolRuns([run('a', [1, 2], [1, 2]), run('bb', [3, 4, 5], [3, 4, 5])])
    expect((pooled.environment.options as { repeat: number }).repeat).toBe(5)
    expect(pooled.environment.pooledFrom).toEqual([
      'a (commit commit-, 2026-12-02T11:00:00.000Z)',
      'bb (commit commit-, 2026-12-02T12:00:00.000Z)'
    ])
  })

  it('keeps the notes every run shares, leaves those about one run\'s steps to the verdicts, and names the code changes it was told of', () => {
    const pooled = poolRuns([run('a', [1], [1]), run('b', [1], [1])], ['broker/client.ts'])
    expect(pooled.notes[0]).toMatch(/^Pooled by npm run bench:rejudge -- --pool: the repetitions of 2 runs/)
    expect(pooled.notes[0]).toMatch(/Their commits differed in broker\/client.ts; they were pooled anyway \(--despite-code-changes\)/)
    expect(pooled.notes.slice(1)).toEqual([SETUP_NOTE])
    expect(summaryMarkdown(pooled)).toContain('2 runs pooled (the first note names them); Node v20.20.2')
  })

  it('refuses fewer than two runs, a pooled report, and searches that do not say why they ended', () => {
    expect(() => poolRuns([run('a', [1], [1])])).toThrow(PoolError)
    const pooled = { name: 'ab', results: poolRuns([run('a', [1], [1]), run('b', [1], [1])]) }
    expect(() => poolRuns([pooled, run('c', [1], [1])])).toThrow('ab is a pooled report: name the runs it pooled instead')
    expect(() => poolRuns([run('a', [1], [1]), run('b', [1], [1], { endedAt: false })])).toThrow(/b: its maximum searches do not record why they ended/)
  })
})
