/**
 * The suite's verdicts, pure. A timing target is judged on repeated runs: the value is the
 * median of the repetitions (or a ratio of medians), shown with its 95% bootstrap interval, and
 * the verdict is PASS when the whole interval meets the target, FAIL when none of it does,
 * and inconclusive when the interval straddles the target (or fewer than three repetitions
 * were measured: an interval of one or two runs says nothing). Counts that must be zero (loss,
 * wrong values, order) are facts, judged on every run at once.
 */
import { medianInterval, ratioOfMedians, type RatioInterval } from './stats.ts'

export type Outcome = 'PASS' | 'FAIL' | 'inconclusive' | 'n/a'

export interface Verdict {
  check: string
  /** The target as shown, e.g. "<= 1.2". */
  target: string
  value: number | null
  /** 95% interval of the value, when it was judged on repetitions. */
  interval?: { low: number, high: number }
  outcome: Outcome
  /** True for PASS, false for FAIL, null otherwise (inconclusive or not measured). */
  pass: boolean | null
  note?: string
}

export type Direction = 'at-most' | 'at-least'

/** Fewer repetitions than this give no verdict on a timing target. */
export const MIN_REPETITIONS = 3

function verdictOf (
  check: string,
  bound: number,
  direction: Direction,
  r: RatioInterval | null,
  runs: number,
  note?: string
): Verdict {
  const target = `${direction === 'at-most' ? '<=' : '>='} ${bound}`
  if (r === null || Number.isNaN(r.ratio)) return { check, target, value: null, outcome: 'n/a', pass: null, note: note ?? 'not measured' }
  const meets = (v: number): boolean => (direction === 'at-most' ? v <= bound : v >= bound)
  const interval = { low: r.low, high: r.high }
  const notes = [note, `median of ${runs} run${runs === 1 ? '' : 's'}, 95% interval ${r.low.toFixed(3)}-${r.high.toFixed(3)}`]
  if (runs < MIN_REPETITIONS) {
    notes.push(`fewer than ${MIN_REPETITIONS} runs: not judged (--repeat ${MIN_REPETITIONS} or more)`)
    return { check, target, value: r.ratio, interval, outcome: 'inconclusive', pass: null, note: notes.filter((n) => n !== undefined).join('; ') }
  }
  const outcome: Outcome = meets(r.low) && meets(r.high) ? 'PASS' : !meets(r.low) && !meets(r.high) ? 'FAIL' : 'inconclusive'
  return { check, target, value: r.ratio, interval, outcome, pass: outcome === 'PASS' ? true : outcome === 'FAIL' ? false : null, note: notes.filter((n) => n !== undefined).join('; ') }
}

/** A target on one measured figure per repetition (e.g. a staleness p99, a Jain index). */
export function judgeMedian (
  check: string,
  bound: number,
  direction: Direction,
  values: readonly number[],
  o: { note?: string, random?: () => number } = {}
): Verdict {
  const r = values.length === 0 ? null : medianInterval(values, o.random === undefined ? {} : { random: o.random })
  return verdictOf(check, bound, direction, r, values.length, o.note)
}

/** A target on median(a) / median(b) (e.g. p99 with slow subscribers / without). */
export function judgeRatio (
  check: string,
  bound: number,
  direction: Direction,
  a: readonly number[],
  b: readonly number[],
  o: { note?: string, random?: () => number } = {}
): Verdict {
  const r = a.length === 0 || b.length === 0 ? null : ratioOfMedians(
    a,
    b,
    o.random === undefined ? {} : { random: o.random }
  )
  return verdictOf(check, bound, direction, r, Math.min(a.length, b.length), o.note)
}

/** A count that must be zero over every measured run. */
export function judgeZero (check: string, counts: readonly number[], note?: string): Verdict {
  if (counts.length === 0) return { check, target: '= 0', value: null, outcome: 'n/a', pass: null, note: note ?? 'no run measured' }
  const total = counts.reduce((a, b) => a + b, 0)
  return { check, target: '= 0', value: total, outcome: total === 0 ? 'PASS' : 'FAIL', pass: total === 0, ...(note === undefined ? {} : { note }) }
}

/** Shown, never judged (a --quick run). */
export function shownOnly (v: Verdict, why: string): Verdict {
  return { ...v, outcome: v.value === null ? 'n/a' : 'inconclusive', pass: null, note: [v.note, why].filter((n) => n !== undefined).join('; ') }
}
