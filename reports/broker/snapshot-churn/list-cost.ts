// Used by reports/broker/snapshot-churn.md:  node --import tsx reports/broker/snapshot-churn/list-cost.ts [shuffled]
// A wildcard's list at 100,000 cached subjects: computed afresh, merged after one new subject, and for a pattern not seen before.
// With `shuffled` the subjects enter the cache in no order (as a market's symbols do), not S0, S1, S2, ...
import { LastValueCache } from '../../../broker/last-value.ts'
import { RoutedMessage } from '../../../broker/wire.ts'
import { SubjectClass } from '../../../broker/subject-classes.ts'
const m = (s: string, t: number) => new RoutedMessage(s, undefined, SubjectClass.LastValue, Buffer.from('v'), 0, t, undefined)
const lvc = new LastValueCache({ maxSubjects: 100_000 })
const shuffled = process.argv[2] === 'shuffled'
const name = (i: number): string => shuffled ? `quote.churn.S${((i * 2654435761) >>> 0).toString(36)}` : `quote.churn.S${i}`
for (let i = 0; i < 100_000; i++) lvc.offer(m(name(i), i))
let t = 1e6
const time = (f: () => void): number => { const s = performance.now(); f(); return performance.now() - s }
for (let r = 0; r < 3; r++) {
  const full = time(() => lvc.subjectsMatching('quote.>'))
  lvc.offer(m(`quote.churn.new${r}`, t++))
  const merged = time(() => lvc.subjectsMatching('quote.>'))
  const scannedMerge = lvc.lastScanned
  // a fresh pattern: a full scan
  const fresh = time(() => lvc.subjectsMatching(`quote.*.*`))
  const scannedFresh = lvc.lastScanned
  // a pattern not seen before in every round, matching every subject: a full scan, warm after round 0
  const other = ['*.churn.*', '*.*.*', 'quote.churn.*'][r] as string
  const warm = time(() => lvc.subjectsMatching(other))
  lvc.offer(m(`quote.churn.more${r}`, t++))
  console.log(`round ${r}: first ${full.toFixed(1)} ms; after one new subject: merge ${merged.toFixed(2)} ms (charged as ${scannedMerge} scanned); a fresh pattern ${fresh.toFixed(1)} ms (${scannedFresh}); ${other}, seen first now: ${warm.toFixed(1)} ms (${lvc.lastScanned})`)
}
