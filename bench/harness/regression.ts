/**
 * The regression gate's decision, pure: is the candidate build slower than the reference on a
 * measure where lower is better (CPU per delivery, heap bytes per message)?
 *
 * Both builds were measured interleaved (A B B A ...), so slow drift of the machine falls on
 * both alike. The decision is the ratio of medians candidate / reference with a percentile
 * bootstrap interval (bench/harness/stats.ts), in the spirit of Node core's
 * benchmark/compare.js: a regression is a ratio above 1 + tolerance whose whole interval lies
 * above 1. So an unchanged tree passes unless chance moves the median by more than the
 * tolerance and the interval with it, and a real slowdown larger than the tolerance fails
 * once the samples pin it down.
 */
import { ratioOfMedians, type RatioInterval } from './stats.ts'

export interface RegressionVerdict extends RatioInterval {
  /**
   * 'regression' fails the gate; 'unchanged' is within tolerance or not shown to differ; 'faster' is shown to be
   * faster.
   */
  verdict: 'regression' | 'unchanged' | 'faster'
  tolerance: number
}

export function judgeRegression (
  candidate: readonly number[],
  reference: readonly number[],
  o: { tolerance: number, random?: () => number }
): RegressionVerdict {
  if (candidate.length < 2 || reference.length < 2) throw new RangeError('a regression verdict needs at least two samples of each build')
  const r = ratioOfMedians(candidate, reference, o.random === undefined ? {} : { random: o.random })
  const verdict = r.ratio > 1 + o.tolerance && r.low > 1
    ? 'regression'
    : r.ratio < 1 - o.tolerance && r.high < 1 ? 'faster' : 'unchanged'
  return { ...r, verdict, tolerance: o.tolerance }
}

/** "1.084 (95% 1.051-1.112)" */
export function formatRatio (r: RatioInterval): string {
  return `${r.ratio.toFixed(3)} (${Math.round(r.level * 100)}% ${r.low.toFixed(3)}-${r.high.toFixed(3)})`
}
