/**
 * The trade history's append in its two phases: while it fills fresh memory, and once full (one
 * removal per append). 150-byte messages on 100 subjects, each a view of a larger buffer, the
 * clock read once per 100 appends (as bench/micro/history-append.ts). Prints ns per append for
 * the first fill, for two more fills of fresh streams (memory the process has had before), and
 * for four rounds of 2,000,000 appends into the last one, full.
 *
 *   node --min-semi-space-size=16 --initial-old-space-size=64 --import tsx \
 *     reports/broker/history-fill/append-phases.ts [maxBytes, default 268435456]
 */
import { HistoryStream } from '../../../broker/history.ts'

const PAYLOAD = 150
const STRIDE = PAYLOAD + 22
const subjects = Array.from({ length: 100 }, (_, i) => `trade.bench.S${i}`)
const input = Buffer.alloc(64 * 1024, 120)
const maxBytes = Number(process.argv[2] ?? 256 * 1024 * 1024)
let at = 0
let now = Date.now()
let i = 0

function stream (): HistoryStream {
  return new HistoryStream({ name: 't', subjects: ['trade.>'], maxAgeMs: 600_000, maxBytes, maxMsgsPerSubject: 100_000, duplicateWindowMs: 120_000, maxMsgIds: 100_000 }, now)
}

/** ns per append over `n` appends into `s`. */
function appends (s: HistoryStream, n: number): number {
  const t0 = process.hrtime.bigint()
  for (let k = 0; k < n; k++, i++) {
    if (at + PAYLOAD > input.length) at = 0
    if (i % 100 === 0) now = Date.now()
    s.append(subjects[i % 100] as string, input.subarray(at, at + PAYLOAD), 0, undefined, now)
    at += STRIDE
  }
  return Number(process.hrtime.bigint() - t0) / n
}

const toFill = Math.ceil(maxBytes / (PAYLOAD + 17))
let s = stream()
console.log(`first fill of ${maxBytes} B: ${appends(s, toFill).toFixed(1)} ns per append`)
for (let r = 0; r < 2; r++) {
  s = stream()
  console.log(`fill again: ${appends(s, toFill).toFixed(1)} ns per append`)
}
for (let r = 0; r < 4; r++) console.log(`full: ${appends(s, 2_000_000).toFixed(1)} ns per append (${s.removed.bytes} removed)`)
