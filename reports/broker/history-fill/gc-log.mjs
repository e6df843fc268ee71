/**
 * A preload that logs each garbage collection of a process, one line each: seconds since the
 * process started, kind (minor: a scavenge; major: a full mark-compact; incr: marking steps
 * before one), wall-clock pause in ms, and V8's callback flags (40 and 64: a collection asked for
 * by external memory, or scheduled for idle time). Written to `$GCLOG-<pid>.txt`. For a broker
 * under the suite's load:
 *
 *   GCLOG=/tmp/gcl TICKFAN_BROKER_NODE_ARGS="--import ./reports/broker/history-fill/gc-log.mjs" \
 *     npx tsx bench/suite.ts --workloads <step.json> --targets tickfan ...
 *
 * With GCLOG_HEAP=1 each full collection's line also has V8's old space and the process's
 * external memory (what the history's slabs and index count as) in MB.
 *
 * bench/micro/gc-watch.mjs counts the same by kind; this one keeps each pause and when it came.
 */
import { appendFileSync } from 'node:fs'
import { PerformanceObserver, constants } from 'node:perf_hooks'
import process from 'node:process'
import v8 from 'node:v8'

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incr',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak'
}
const file = `${process.env.GCLOG ?? '/tmp/gclog'}-${process.pid}.txt`

/** With GCLOG_HEAP=1, each full collection's line ends with V8's old space and the process's external memory, in MB. */
const withHeap = process.env.GCLOG_HEAP === '1'
const mb = (bytes) => (bytes / 1e6).toFixed(1)

new PerformanceObserver((list) => {
  let lines = ''
  for (const e of list.getEntries()) {
    let heap = ''
    if (withHeap && e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      const old = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')
      heap = ` old=${mb(old?.space_used_size ?? 0)} external=${mb(process.memoryUsage().external)}`
    }
    lines += `${(e.startTime / 1000).toFixed(2)} ${KINDS[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(1)} flags=${e.detail?.flags}${heap}\n`
  }
  appendFileSync(file, lines)
}).observe({ entryTypes: ['gc'] })
