/** The least-squares slope of [ms, value] points, in value per second: is a series growing? */
export function slope (points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  let sx = 0; let sy = 0; let sxx = 0; let sxy = 0
  for (const [ms, y] of points) {
    const x = ms / 1000
    sx += x; sy += y; sxx += x * x; sxy += x * y
  }
  const d = n * sxx - sx * sx
  return d === 0 ? 0 : (n * sxy - sx * sy) / d
}
