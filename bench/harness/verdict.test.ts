import { describe, expect, it } from 'vitest'
import { Random } from '../../feeds/random.ts'
import { judgeMedian, judgeRatio, judgeZero } from './verdict.ts'

/** Repeatable randomness for the bootstrap. */
const seeded = (seed: number): (() => number) => { const r = new Random(seed); return () => r.next() }

describe('verdicts on repetitions', () => {
  it('passes when the whole interval meets the target, fails when none of it does', () => {
    const random = seeded(1)
    expect(judgeMedian('staleness', 100, 'at-most', [40, 45, 50, 42, 48], { random }).outcome).toBe('PASS')
    expect(judgeMedian('staleness', 100, 'at-most', [140, 145, 150, 142, 148], { random }).outcome).toBe('FAIL')
    expect(judgeMedian('jain', 0.95, 'at-least', [0.97, 0.98, 0.975], { random }).outcome).toBe('PASS')
  })

  it('is inconclusive when the interval straddles the target', () => {
    const v = judgeMedian('staleness', 100, 'at-most', [60, 140, 95, 105, 80, 120], { random: seeded(2) })
    expect(v.outcome).toBe('inconclusive')
    expect(v.pass).toBeNull()
    expect(v.interval?.low).toBeLessThan(100)
    expect(v.interval?.high).toBeGreaterThan(100)
  })

  it('does not judge fewer than three runs, however clear they look', () => {
    const v = judgeRatio('isolation', 1.2, 'at-most', [1.0, 1.01], [1.0, 1.0], { random: seeded(3) })
    expect(v.outcome).toBe('inconclusive')
    expect(v.note).toMatch(/fewer than 3 runs/)
  })

  it('judges a ratio of medians', () => {
    const v = judgeRatio('isolation', 1.2, 'at-most', [5.1, 5.3, 5.0, 5.2], [5.0, 5.1, 4.9, 5.0], { random: seeded(4) })
    expect(v.outcome).toBe('PASS')
    expect(v.value).toBeCloseTo(5.15 / 5.0, 3)
  })

  it('is n/a when nothing was measured, and counts facts over every run', () => {
    expect(judgeMedian('x', 1, 'at-most', []).outcome).toBe('n/a')
    expect(judgeZero('loss', [0, 0, 0]).outcome).toBe('PASS')
    expect(judgeZero('loss', [0, 2, 0])).toMatchObject({ outcome: 'FAIL', value: 2 })
    expect(judgeZero('loss', []).outcome).toBe('n/a')
  })
})
