// Used by reports/broker/last-value-sprawl.md:  node --expose-gc --import tsx reports/broker/last-value-sprawl/entry-cost.ts
// The heap one held last value costs a conflating outbox besides its message (shared with the cache), against what it counts.
import { Outbox } from '../../../broker/outbox.ts'
import { RoutedMessage, encodeSid } from '../../../broker/wire.ts'
import { SubjectClass } from '../../../broker/subject-classes.ts'
const N = 200_000
const msgs = Array.from({ length: N }, (_, i) => new RoutedMessage(`quote.new.S${i}`, undefined, SubjectClass.LastValue, Buffer.from('x'.repeat(64)), 0, 0, undefined).retain())
for (const subs of [1, 2]) {
  const sub = Array.from({ length: subs }, (_, k) => ({ uid: k + 1, sid: String(k + 1), sidBytes: encodeSid(String(k + 1)) }))
  globalThis.gc!(); const before = process.memoryUsage().heapUsed
  const outbox = new Outbox({ headers: false, maxPendingEventBytes: 1 << 30 })
  outbox.startConflating(0)
  for (const m of msgs) for (const s of sub) outbox.deliver(s, m)
  globalThis.gc!(); const after = process.memoryUsage().heapUsed
  console.log(`${subs} subscription(s): ${((after - before) / (N * subs)).toFixed(0)} B of heap per held last value (messages shared), counted ${(outbox.pendingBytes / (N * subs)).toFixed(0)} B`)
  ;(globalThis as any).keep = outbox
}
