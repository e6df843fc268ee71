/**
 * Writes a suite run: reports/<date-time>/results.json (environment, options, every scenario
 * with its encoded histograms), summary.md, and a self-contained report.html with charts;
 * reports/latest points to the newest.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { decodeHistogram } from '../../lib/histogram.ts'
import { escapeHtml } from '../../lib/html.ts'
import { CAP_PERIOD_MS, capUsedText } from '../harness/cpu-cap.ts'
import { coreCount } from '../harness/processes.ts'
import type { ScenarioResult } from '../harness/runner.ts'
import type { MaxSustained } from '../harness/suite-verdicts.ts'
import type { Verdict } from '../harness/verdict.ts'
import { flameGraphSvg, summarizeProfile, type Share } from './profile.ts'
import { readCpuProfile } from './profile-file.ts'
import { barChart, lineChart, type Series } from './svg.ts'

export type { Verdict } from '../harness/verdict.ts'

export interface HttpResult {
  target: string
  path: string
  requestsPerSec: number
  latencyP99Ms: number
}

export interface SuiteResults {
  environment: Record<string, unknown>
  scenarios: ScenarioResult[]
  maxSustained: MaxSustained[]
  http: HttpResult[]
  verdicts: Verdict[]
  notes: string[]
  failures: string[]
  /** The tickfan broker's CPU profiles (`--profile`): one per workload, of its last tickfan run. */
  profiles?: BrokerProfile[]
}

export interface BrokerProfile {
  workload: string
  /** Which run was profiled. */
  run: string
  /** Files in the report folder: the flame graph and the V8 profile (Chrome DevTools opens it). */
  flameGraph: string
  cpuProfile: string
  busyMs: number
  /** The functions with the most self time. */
  top: Share[]
}

/**
 * Puts a broker's V8 profile (`cpuProfileFile`) into the report folder `dir` beside its flame
 * graph, named after the workload, and returns what the report shows of it.
 */
export function writeBrokerProfile (dir: string, workload: string, run: string, cpuProfileFile: string): BrokerProfile {
  const name = `profile-${workload.replace(/[^A-Za-z0-9_-]/g, '_')}`
  mkdirSync(dir, { recursive: true })
  const profile = readCpuProfile(cpuProfileFile)
  writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
  writeFileSync(path.join(dir, `${name}.svg`), flameGraphSvg(profile, `tickfan broker, ${run}`))
  const summary = summarizeProfile(profile, 10)
  return { workload, run, flameGraph: `${name}.svg`, cpuProfile: `${name}.cpuprofile`, busyMs: summary.busyUs / 1000, top: summary.byFunction }
}

function profileLines (profiles: readonly BrokerProfile[]): string[] {
  if (profiles.length === 0) return []
  const lines = ['## The tickfan broker\'s CPU profiles', '',
    'One per workload, of its last tickfan run (for max-throughput, the step where the search stopped). ' +
    'Self time of the top functions, start-up included; the profiler adds its own overhead.', '']
  for (const p of profiles) {
    lines.push(`### ${p.workload}: ${p.run}`, '', `Busy ${p.busyMs.toFixed(0)} ms. Flame graph: [${p.flameGraph}](${p.flameGraph}); profile: \`${p.cpuProfile}\`.`, '',
      '| share of busy time | where |', '|---|---|', ...p.top.map((t) => `| ${(100 * t.share).toFixed(1)}% | \`${t.name}\` |`), '')
  }
  return lines
}

const COLORS: Record<string, string> = { tickfan: '#d9480f', 'nats-server': '#1c7ed6' }
const fmtUs = (us: number): string => (us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`)
const fmtN = (n: number): string => Math.round(n).toLocaleString('en-US')

/** Percentile spectrum of an encoded histogram: x = 1/(1-p) on a log axis, as HdrHistogram plots. */
function spectrum (encoded: string): Array<[number, number]> {
  const h = decodeHistogram(encoded)
  if (h.totalCount === 0) return []
  return [
    0,
    50,
    75,
    90,
    95,
    99,
    99.5,
    99.9,
    99.95,
    99.99,
    99.999
  ].map((p) => [1 / (1 - p / 100), Math.max(1, h.getValueAtPercentile(p))])
}

/**
 * The valid column: why a run is left out, or, for a valid one, that the broker held its
 * publisher back (waits under 50 ms in all are not worth a mention).
 */
function validity (s: ScenarioResult): string {
  if (!s.valid) return `no: ${s.invalidReason ?? ''}`
  const waited = s.publisher.waitedForBrokerSeconds ?? 0
  return waited > 0.05 ? `yes (the broker held the publisher back ${waited.toFixed(2)} s)` : 'yes'
}

/** The worker count is always shown (for nats-server: its GOMAXPROCS). */
function scenarioLabel (s: ScenarioResult): string {
  return `${s.workload} ${fmtN(s.offeredRate)}/s, ${s.workers} worker${s.workers === 1 ? '' : 's'}`
}

/** The share of one core each broker was capped at (`--broker-cpu`), or 0 for none. */
function brokerCapOf (r: SuiteResults): number {
  return (r.environment.options as { brokerCpu?: number } | undefined)?.brokerCpu ?? 0
}

/** The cap as the report's header says it: its share, and its period where not the default. */
function brokerCapText (r: SuiteResults): string {
  const options = r.environment.options as { brokerCpuPeriodMs?: number } | undefined
  const period = options?.brokerCpuPeriodMs ?? CAP_PERIOD_MS
  return `; each broker capped at ${brokerCapOf(r)} of one core${period === CAP_PERIOD_MS ? '' : ` per ${period} ms`}`
}

/** The header's word that nats-server kept the trades too (`--nats-history`), or nothing. */
function natsHistoryText (r: SuiteResults): string {
  return (r.environment.options as { natsHistory?: boolean } | undefined)?.natsHistory === true
    ? '; nats-server kept the trades in JetStream (--nats-history)'
    : ''
}

/** Cores the broker was pinned to in this run (the pinning's "0-3" form), or null when unpinned. */
function brokerCoreCount (r: SuiteResults): number | null {
  const spec = (r.environment.pinning as { broker?: string } | undefined)?.broker
  return spec === undefined ? null : coreCount(spec)
}

/** Speedup S(N) = rate(N) / rate(1) and efficiency E(N) = S(N) / N, per target, from the scaling sweep. */
export function scalingRows (r: SuiteResults): string[] {
  const rows: string[] = []
  const brokerCores = brokerCoreCount(r)
  for (const m of r.maxSustained.filter((x) => x.workload === 'scaling')) {
    const base = r.maxSustained.find((x) => x.workload === 'scaling' && x.target === m.target && x.workers === 1)?.deliveredRate ?? null
    const speedup = base !== null && m.deliveredRate !== null ? m.deliveredRate / base : null
    // More workers than the broker's cores measures time-slicing, not scaling: said, not hidden.
    const over = brokerCores !== null && m.workers > brokerCores ? ` (${m.workers} workers on ${brokerCores} core${brokerCores === 1 ? '' : 's'}: bounded by the machine)` : ''
    rows.push(`| ${m.target} | ${m.workers} | ${m.deliveredRate === null ? 'none sustained' : fmtN(m.deliveredRate)} | ${speedup === null ? '-' : speedup.toFixed(2)} | ${speedup === null ? '-' : (speedup / m.workers).toFixed(2)}${over} |`)
  }
  return rows.length === 0 ? ['| (no scaling sweep in this run) | | | | |'] : rows
}

export function summaryMarkdown (r: SuiteResults): string {
  const env = r.environment
  const lines = [
    `# tickfan benchmark report`, '',
    `${Array.isArray(env.pooledFrom) ? `${env.pooledFrom.length} runs pooled (the first note names them)` : `${String(env.date)}; commit ${String(env.commit).slice(0, 12)}`}; Node ${String(env.node)}; ${String(env.cpu)} x ${String(env.cores)}; ${String(env.natsServer ?? 'nats-server absent')}; ${env.quick === true ? 'quick run' : 'full run'}${brokerCapOf(r) > 0 ? brokerCapText(r) : ''}${natsHistoryText(r)}`, '',
    '## Verdict against tickfan\'s targets', '',
    '| check | target | value | result |', '|---|---|---|---|',
    ...r.verdicts.map((v) => `| ${v.check} | ${v.target} | ${v.value === null ? 'n/a' : Number.isInteger(v.value) ? fmtN(v.value) : v.value.toFixed(3)} | ${v.outcome}${v.note === undefined ? '' : ` (${v.note})`} |`), '',
    '## Scenarios (fast-subscriber latency from intended send time)', '',
    '| target | scenario | published/s | delivered/s | p50 | p90 | p99 | p99.9 | p99.99 | max | uncorrected p99 | staleness p99 | slow staleness p99 | conflation | trade loss | wrong finals | order violations | Jain (first) | CPU s / M deliveries, run / window | generators busy | other processes (cores) | valid |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.scenarios.map((s) => {
      const l = s.fast.latencyUs
      return `| ${s.target} | ${scenarioLabel(s)} | ${fmtN(s.publishedRate)} | ${fmtN(s.deliveredRate)} | ${fmtUs(l.p50)} | ${fmtUs(l.p90)} | ${fmtUs(l.p99)} | ${fmtUs(l.p999)} | ${fmtUs(l.p9999)} | ${fmtUs(l.max)} | ${fmtUs(s.fast.uncorrectedUs.p99)} | ${fmtUs(s.fast.stalenessUs.p99)} | ${s.slow === null ? '-' : fmtUs(s.slow.stalenessUs.p99)} | ${(s.conflationRatio * 100).toFixed(1)}% / slow ${(s.slowConflationRatio * 100).toFixed(1)}% | ${s.tradeLoss} | ${s.wrongFinalValues} | ${s.orderViolations} | ${s.fairness.jainFirstPlaces.toFixed(3)} | ${s.broker.cpuSecondsPerMillionDeliveries.toFixed(2)} / ${s.broker.windowCpuSecondsPerMillionDeliveries?.toFixed(2) ?? '-'}${s.broker.capUsed == null ? '' : `, ${capUsedText(s.broker.capUsed)}`} | ${(s.generatorBusy * 100).toFixed(0)}% | ${s.machine.otherCores.toFixed(2)} | ${validity(s)} |`
    }), '',
    '## Fairness by broker worker', '',
    'First places won by the subscribers on each worker, against their share of the subscribers (fair: the two agree; the publisher\'s worker is marked).', '',
    '| target | scenario | worker | subscribers | share of subscribers | share of first places |', '|---|---|---|---|---|---|',
    ...r.scenarios.filter((s) => s.workload === 'fairness').flatMap((s) => s.fairness.byWorker.map((b) =>
      `| ${s.target} | ${scenarioLabel(s)} | ${b.worker}${b.worker === s.publisherWorker && s.workers > 1 ? ' (publisher)' : ''} | ${b.subscribers} | ${(b.subscriberShare * 100).toFixed(0)}% | ${(b.firstShare * 100).toFixed(1)}% |`)), '',
    '## Maximum sustainable rate', '',
    '| target | workload | workers | offered msgs/s | delivered msgs/s |', '|---|---|---|---|---|',
    ...r.maxSustained.map((m) => `| ${m.target} | ${m.workload} | ${m.workers} | ${m.rate === null ? 'none sustained' : fmtN(m.rate)} | ${m.deliveredRate === null ? '-' : fmtN(m.deliveredRate)} |`), '',
    '## Scaling over broker workers', '',
    '| target | workers | delivered msgs/s at the maximum sustained rate | speedup | efficiency |', '|---|---|---|---|---|',
    ...scalingRows(r),
    '',
    '## HTTP (autocannon, closed loop)', '',
    '| target | path | requests/s | p99 |', '|---|---|---|---|',
    ...r.http.map((h) => `| ${h.target} | ${h.path} | ${fmtN(h.requestsPerSec)} | ${h.latencyP99Ms} ms |`), ''
  ]
  if (r.notes.length > 0) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '')
  if (r.failures.length > 0) lines.push('## Failures', '', ...r.failures.map((n) => `- ${n}`), '')
  lines.push(...profileLines(r.profiles ?? []))
  return lines.join('\n')
}


export function reportHtml (r: SuiteResults): string {
  const charts: string[] = []
  const byWorkload = new Map<string, ScenarioResult[]>()
  for (const s of r.scenarios) byWorkload.set(s.workload, [...(byWorkload.get(s.workload) ?? []), s])
  for (const [workload, list] of byWorkload) {
    const lat: Series[] = list.map((s) => ({ name: `${s.target} ${fmtN(s.offeredRate)}/s`, color: COLORS[s.target] ?? '#555', dashed: s.offeredRate !== list[0]?.offeredRate, points: spectrum(s.fast.latencyHistogram).map(([x, y]) => [x, y / 1000]) }))
    charts.push(`<h3>${escapeHtml(workload)}</h3>`)
    charts.push(lineChart(lat.slice(0, 6), { title: `${workload}: latency percentile spectrum (fast subscribers)`, xLabel: 'percentile (1/(1-p), log)', yLabel: 'latency ms (log)', logX: true, logY: true, xTickFormat: (v) => `${(100 - 100 / v).toFixed(v >= 1000 ? 3 : v >= 100 ? 2 : 0)}%`, yTickFormat: (v) => String(v) }))
    charts.push(lineChart(list.slice(0, 6).map((s) => ({ name: `${s.target} ${fmtN(s.offeredRate)}/s`, color: COLORS[s.target] ?? '#555', dashed: s.offeredRate !== list[0]?.offeredRate, points: s.deliveredPerSecond.map((v, i) => [i, v] as [number, number]) })), { title: `${workload}: deliveries per second`, xLabel: 'second of run', yLabel: 'deliveries/s' }))
    const stale = list.flatMap((s) => [{ label: `${s.target.split('-')[0]} fast`, value: Math.round(s.fast.stalenessUs.p99 / 1000), color: COLORS[s.target] ?? '#555' }, ...(s.slow === null ? [] : [{ label: `${s.target.split('-')[0]} slow`, value: Math.round(s.slow.stalenessUs.p99 / 1000), color: COLORS[s.target] ?? '#555' }])])
    if (workload === 'slow-consumers') charts.push(barChart(stale.slice(0, 8), { title: `${workload}: staleness p99 (ms)`, yLabel: 'ms' }))
    if (workload === 'fairness' || workload === 'wide-fanout') {
      for (const s of list.slice(0, 2)) {
        charts.push(barChart(s.fairness.firstShare.map((v, i) => ({ label: String(i), value: Number((v * 100).toFixed(2)), color: COLORS[s.target] ?? '#555' })), { title: `${workload}, ${s.target}: share of first places by connect order (%), Jain ${s.fairness.jainFirstPlaces.toFixed(3)}`, yLabel: '% first', reference: 100 / Math.max(1, s.fairness.firstShare.length) }))
      }
    }
  }
  const scaling = r.maxSustained.filter((m) => m.workload === 'scaling')
  if (scaling.length > 0) {
    const series: Series[] = []
    for (const target of ['tickfan', 'nats-server']) {
      const pts = scaling.filter((m) => m.target === target && m.deliveredRate !== null).map((m) => [
        m.workers,
        m.deliveredRate as number
      ] as [number, number])
      if (pts.length === 0) continue
      series.push({ name: target, color: COLORS[target] as string, points: pts })
      const base = pts.find(([w]) => w === 1)?.[1]
      if (base !== undefined) series.push({ name: `${target} ideal`, color: COLORS[target] as string, dashed: true, points: pts.map(([w]) => [w, base * w]) })
    }
    charts.push('<h3>scaling</h3>', lineChart(series, { title: 'Scaling: delivered msgs/s at the maximum sustainable rate vs broker workers', xLabel: 'workers', yLabel: 'deliveries/s' }))
  }
  const profiles = r.profiles ?? []
  if (profiles.length > 0) {
    charts.push('<h3>The tickfan broker\'s CPU profiles</h3>', '<ul>', ...profiles.map((p) =>
      `<li>${escapeHtml(p.workload)}, ${escapeHtml(p.run)}: <a href="${p.flameGraph}">flame graph</a>, <a href="${p.cpuProfile}">V8 profile</a> (Chrome DevTools, Performance)</li>`), '</ul>')
  }
  const md = summaryMarkdown(r)
  return `<!doctype html><html><head><meta charset="utf-8"><title>tickfan benchmark report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1400px;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px}svg{margin:8px 8px 8px 0;border:1px solid #eee}pre{white-space:pre-wrap;font-size:12px}</style></head>
<body><h1>tickfan benchmark report</h1><p>tickfan in orange, nats-server in blue, same clients and workload in the same run.</p>
${charts.join('\n')}
<h2>Summary</h2><pre>${escapeHtml(md)}</pre>
<script type="application/json" id="results">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
</body></html>`
}

export function writeReport (root: string, r: SuiteResults, stamp: string, o: { pointLatest?: boolean } = {}): string {
  const dir = path.join(root, stamp)
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify(r, null, 2))
  writeFileSync(path.join(dir, 'summary.md'), summaryMarkdown(r))
  writeFileSync(path.join(dir, 'report.html'), reportHtml(r))
  if (o.pointLatest === false) return dir
  const latest = path.join(root, 'latest')
  rmSync(latest, { force: true, recursive: false })
  symlinkSync(stamp, latest)
  return dir
}
