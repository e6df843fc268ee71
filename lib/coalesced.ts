/**
 * One load serving every caller that asks while it runs, and for `maxAgeMs` after it ends: what
 * a proxy in front of a costly endpoint needs so that its own request rate, not its callers',
 * sets the load behind it. A failed load is not kept: the next caller after it tries again.
 */
export interface Coalesced<T> {
  (): Promise<T>
  /** Loads started so far. */
  readonly loads: number
}

export function coalesced<T> (load: () => Promise<T>, maxAgeMs: number, now: () => number = Date.now): Coalesced<T> {
  let current: Promise<T> | null = null
  let settledAtMs = -Infinity
  let loads = 0
  const get = (): Promise<T> => {
    if (current !== null && now() - settledAtMs <= maxAgeMs) return current
    loads++
    settledAtMs = Infinity // in flight: shared whatever its age
    const started: Promise<T> = load().then((value) => {
      if (current === started) settledAtMs = now()
      return value
    }, (err: unknown) => {
      if (current === started) current = null
      throw err
    })
    current = started
    return started
  }
  Object.defineProperty(get, 'loads', { get: () => loads })
  return get as Coalesced<T>
}
