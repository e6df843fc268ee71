/**
 * A preload that counts a process's garbage collections by kind and writes them, with their
 * total pause, to `$GC_WATCH_DIR/<pid>.json` every second and at exit. For a broker under a
 * benchmark's load:
 *
 *   GC_WATCH_DIR=/tmp/gcw TICKFAN_BROKER_NODE_ARGS="--import ./bench/micro/gc-watch.mjs" npm run bench:profile -- …
 *
 * The kinds are perf_hooks' (NODE_PERFORMANCE_GC_*): minor is a scavenge, major a full
 * mark-compact, incremental the marking steps that lead to one.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PerformanceObserver, constants } from 'node:perf_hooks'
import process from 'node:process'
import { setInterval } from 'node:timers'

const dir = process.env.GC_WATCH_DIR ?? '/tmp/gc-watch'
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks'
}
const totals = {}

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = KINDS[entry.detail?.kind] ?? String(entry.detail?.kind)
    const t = totals[kind] ?? (totals[kind] = { count: 0, ms: 0 })
    t.count++
    t.ms += entry.duration
  }
}).observe({ entryTypes: ['gc'] })

function dump () {
  try {
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(totals))
  } catch { /* a full disk must not take the broker down */ }
}
process.on('exit', dump)
setInterval(dump, 1000).unref()
