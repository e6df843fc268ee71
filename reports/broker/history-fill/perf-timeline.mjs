/**
 * Where a profiled broker's CPU went, half second by half second: the samples of a
 * `perf record` (perf-record.sh) by kind, from the first sample on. Kinds: JavaScript (V8's
 * code, named through --perf-basic-prof-only-functions), V8's optimizing compiler, its
 * collector, the rest of node, libc, the kernel. At 2 kHz, 0.5 s of a quarter core is at most
 * 250 samples.
 *
 *   node reports/broker/history-fill/perf-timeline.mjs /tmp/perf-record/<label>/perf.data
 */
import { execFileSync } from 'node:child_process'

const data = process.argv[2]
if (data === undefined) {
  console.error('usage: node perf-timeline.mjs <perf.data>')
  process.exit(2)
}
const script = execFileSync('perf', ['script', '-i', data, '-F', 'time,ip,sym,dso', '--hide-call-graph'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString()
const KINDS = ['javascript', 'compiler', 'collector', 'node', 'libc', 'kernel', 'other']

function kind (symbol, dso) {
  if (dso.includes('kernel')) return 'kernel'
  if (dso.includes('perf-') || dso.includes('JIT')) return 'javascript'
  if (dso.includes('libc')) return 'libc'
  if (!dso.endsWith('/node')) return 'other'
  if (/v8::internal::compiler::|Turbofan|OptimizedCompilationJob|PipelineImpl/.test(symbol)) return 'compiler'
  if (/Heap|Mark|Scaveng|Sweep|Evacuat|GCTracer|Collector/.test(symbol)) return 'collector'
  return 'node'
}

const buckets = new Map()
let first = null
for (const line of script.split('\n')) {
  const m = line.match(/^\s*([\d.]+):\s+\S+\s+(.*)\s+\((.*)\)$/)
  if (m === null) continue
  const t = Number(m[1])
  first ??= t
  const at = Math.floor((t - first) * 2) / 2
  const counts = buckets.get(at) ?? Object.fromEntries(KINDS.map((k) => [k, 0]))
  counts[kind(m[2], m[3])]++
  buckets.set(at, counts)
}
console.log(['from s', ...KINDS].join('\t'))
for (const [at, counts] of [...buckets].sort((a, b) => a[0] - b[0])) {
  console.log([at.toFixed(1), ...KINDS.map((k) => counts[k])].join('\t'))
}
