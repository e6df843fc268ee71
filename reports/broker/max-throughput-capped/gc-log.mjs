// Logs every garbage collection of the process it is preloaded into (node --import=<this file>), one line each:
// start (ms since the process began), kind, duration (ms), to /tmp/diag/gc-<pid>.txt.
// Used for max-throughput-capped/1804956-step-160k-rounds.txt.
import { PerformanceObserver, constants } from 'node:perf_hooks'
import { appendFileSync } from 'node:fs'
const file = `/tmp/diag/gc-${process.pid}.txt`
const kinds = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incr', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak' }
new PerformanceObserver((list) => { let s = ''; for (const e of list.getEntries()) s += `${e.startTime.toFixed(1)} ${kinds[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(2)}\n`; appendFileSync(file, s) }).observe({ entryTypes: ['gc'] })
