/**
 * Small statistics for comparing runs measured on a noisy machine: the median, and a bootstrap
 * confidence interval for the ratio of two medians (what a with/without comparison decides on).
 */

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export interface RatioInterval {
  /** median(a) / median(b) */
  ratio: number
  low: number
  high: number
  /** Confidence level of [low, high], e.g. 0.95. */
  level: number
}

/**
 * median(a) / median(b) with a percentile-bootstrap interval: both samples are resampled with
 * replacement `resamples` times and the ratio recomputed. With a handful of runs per side the
 * interval is wide, and that is the point: it shows how far the verdict could move on a rerun.
 */
export function ratioOfMedians (
  a: readonly number[],
  b: readonly number[],
  options: { resamples?: number, level?: number, random?: () => number } = {}
): RatioInterval {
  const { resamples = 2000, level = 0.95, random = Math.random } = options
  const ratio = median(a) / median(b)
  if (a.length === 0 || b.length === 0) return { ratio, low: Number.NaN, high: Number.NaN, level }
  const draw = (xs: readonly number[]): number[] => xs.map(() => xs[Math.floor(random() * xs.length)] as number)
  const ratios: number[] = []
  for (let i = 0; i < resamples; i++) ratios.push(median(draw(a)) / median(draw(b)))
  ratios.sort((x, y) => x - y)
  const at = (q: number): number => ratios[Math.min(
    ratios.length - 1,
    Math.max(0, Math.floor(q * ratios.length))
  )] as number
  return { ratio, low: at((1 - level) / 2), high: at(1 - (1 - level) / 2), level }
}

/** The median of `values` with a percentile-bootstrap interval (resampled with replacement). */
export function medianInterval (
  values: readonly number[],
  options: { resamples?: number, level?: number, random?: () => number } = {}
): RatioInterval {
  const { resamples = 2000, level = 0.95, random = Math.random } = options
  const m = median(values)
  if (values.length === 0) return { ratio: m, low: Number.NaN, high: Number.NaN, level }
  const medians: number[] = []
  const pick = (): number => values[Math.floor(random() * values.length)] as number
  for (let i = 0; i < resamples; i++) medians.push(median(values.map(pick)))
  medians.sort((x, y) => x - y)
  const at = (q: number): number => medians[Math.min(
    medians.length - 1,
    Math.max(0, Math.floor(q * medians.length))
  )] as number
  return { ratio: m, low: at((1 - level) / 2), high: at(1 - (1 - level) / 2), level }
}
