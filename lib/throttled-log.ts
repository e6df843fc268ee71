/**
 * Logs a recurring problem at most once per interval per key, with how many were suppressed:
 * a flood of bad input costs a log line every few seconds, not one per message.
 */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number, suppressed: number }>()

  constructor (
    private readonly write: (key: string, detail: string, suppressed: number) => void,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now
  ) {}

  /** Returns true when the line was written. */
  note (key: string, detail: string): boolean {
    const t = this.now()
    const entry = this.last.get(key)
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.suppressed++
      return false
    }
    this.write(key, detail, entry?.suppressed ?? 0)
    this.last.set(key, { at: t, suppressed: 0 })
    return true
  }
}
