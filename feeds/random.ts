/**
 * Seeded pseudo-random numbers (mulberry32): everything the market model does is a function of
 * its seed, so a run can be reproduced exactly.
 */
export class Random {
  private state: number
  private spareNormal: number | null = null

  constructor (seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9
  }

  /** Uniform in [0, 1). */
  next (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Standard normal (Box-Muller). */
  normal (): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal
      this.spareNormal = null
      return v
    }
    let u = 0
    while (u === 0) u = this.next()
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spareNormal = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /** Exponential with the given mean. */
  exponential (mean: number): number {
    let u = 0
    while (u === 0) u = this.next()
    return -Math.log(u) * mean
  }

  int (maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive)
  }
}

/** A stable 32-bit hash of a string, to derive independent seeds from one seed. */
export function seedFor (seed: number, label: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}
