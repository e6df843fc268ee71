/**
 * A Map of at most `capacity` keys. A new key past it makes room by dropping the key written
 * longest ago; writing a key again makes it the newest.
 *
 * For a consumer's state per subject or instrument, which a publisher of ever new subjects would
 * otherwise grow without bound (reports/traders/symbol-flood.md): the subjects still being
 * updated stay, one-off ones go first, as the broker's last-value cache evicts its stalest.
 * Works in Node and in the browser.
 */
export class RecentMap<K, V> {
  private readonly map = new Map<K, V>()
  /** Keys dropped to make room, since the start. */
  evicted = 0

  constructor (
    readonly capacity: number,
    /** Told of each key dropped to make room (not of one deleted). */
    private readonly onEvict?: (key: K, value: V) => void
  ) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`)
  }

  get size (): number {
    return this.map.size
  }

  get (key: K): V | undefined {
    return this.map.get(key)
  }

  has (key: K): boolean {
    return this.map.has(key)
  }

  /** Sets `key`, now the newest; drops the oldest key when a new one would pass the capacity. */
  set (key: K, value: V): this {
    if (this.map.has(key)) this.map.delete(key)
    else if (this.map.size >= this.capacity) this.evictOldest()
    this.map.set(key, value)
    return this
  }

  delete (key: K): boolean {
    return this.map.delete(key)
  }

  values (): IterableIterator<V> {
    return this.map.values()
  }

  keys (): IterableIterator<K> {
    return this.map.keys()
  }

  private evictOldest (): void {
    const oldest = this.map.entries().next()
    if (oldest.done === true) return
    const [key, value] = oldest.value
    this.map.delete(key)
    this.evicted++
    this.onEvict?.(key, value)
  }
}
