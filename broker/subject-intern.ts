/**
 * Subjects read off the wire, as the same string each time the same bytes arrive. A publisher
 * sends the same few hundred subjects over and over; slicing a fresh string for each message
 * cost an allocation and, worse, a fresh hash in every Map the subject is then looked up in (the
 * router's subject facts): an interned string carries its hash from the first lookup on.
 *
 * A fixed table of SLOTS entries, looked up by a hash of the subject's length and last bytes
 * (subjects of one feed share their first tokens and differ at the end), then compared whole,
 * four bytes at a time: a hit is always the same bytes. A miss slices a string and takes the slot, so the table
 * never holds more than SLOTS subjects of at most MAX_INTERNED_BYTES each (half a MiB of bytes and
 * their strings), whatever is published; longer subjects are sliced each time. Pure: no I/O.
 */
import { latin1Slice } from './wire.ts'

const SLOTS = 4096
/** Slots of every SubjectInterner: its lastSlot is below this. */
export const INTERNER_SLOTS = SLOTS
const MASK = SLOTS - 1
/** Subjects longer than this are sliced each time, not kept. */
export const MAX_INTERNED_BYTES = 128
/** Bytes from the end of the subject that go into its hash. */
const HASHED_BYTES = 12

export class SubjectInterner {
  private readonly strings: Array<string | null> = new Array<string | null>(SLOTS).fill(null)
  /** Each slot's subject bytes, at slot × MAX_INTERNED_BYTES: one allocation, none per subject. */
  private readonly bytes = Buffer.alloc(SLOTS * MAX_INTERNED_BYTES)
  private readonly lengths = new Int32Array(SLOTS).fill(-1)
  private readonly hashes = new Int32Array(SLOTS)
  private readonly slab = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length)
  /** Lookups that found their subject, and those that sliced a new string. */
  hits = 0
  misses = 0
  /**
   * The slot the last intern() used (-1: the subject was too long to keep): a small integer a
   * caller may cache by. A slot is taken over by another subject on a collision, so a cache keyed
   * by it compares the subject too.
   */
  lastSlot = -1

  /**
   * The subject in `buf` from `start` to `end`, as a latin1 string. `words` is a view of `buf`
   * (from its first byte): known subjects are compared four bytes at a time.
   */
  intern (buf: Buffer, words: DataView, start: number, end: number): string {
    const n = end - start
    if (n > MAX_INTERNED_BYTES) {
      this.lastSlot = -1
      return latin1Slice(buf, start, end)
    }
    let h = Math.imul(0x811c9dc5 ^ n, 16777619)
    const hashFrom = Math.max(start, end - HASHED_BYTES)
    for (let i = end - 1; i >= hashFrom; i--) h = Math.imul(h ^ (buf[i] as number), 16777619)
    const slot = h & MASK
    this.lastSlot = slot
    const bytes = this.bytes
    const at = slot * MAX_INTERNED_BYTES
    if (this.hashes[slot] === h && this.lengths[slot] === n) {
      const slab = this.slab
      let k = 0
      while (k + 4 <= n && slab.getInt32(at + k) === words.getInt32(start + k)) k += 4
      while (k < n && bytes[at + k] === buf[start + k]) k++
      if (k === n) {
        this.hits++
        return this.strings[slot] as string
      }
    }
    this.misses++
    const text = latin1Slice(buf, start, end)
    for (let k = 0; k < n; k++) bytes[at + k] = buf[start + k] as number
    this.strings[slot] = text
    this.lengths[slot] = n
    this.hashes[slot] = h
    return text
  }
}

/** The table every connection's parser of this thread shares. */
export const SHARED_SUBJECTS = new SubjectInterner()
