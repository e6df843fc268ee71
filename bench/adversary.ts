/**
 * `npm run test:adversary`: the floods of the attack review (bench/adversary/floods.ts), each
 * against a fresh tickfan broker and, where the attack applies, a fresh nats-server with the same
 * users and permissions. During each flood a bystander client (bench/load/gap-watcher.ts, its
 * own process) measures the longest gap in its own deliveries, and the broker's resident memory
 * is sampled every 50 ms. tickfan must keep the bystander's longest gap under 100 ms and its
 * memory within 64 MiB of the start (bench/adversary/judge.ts); nats-server's figures stand
 * beside them. Writes reports/adversary/summary.md and results.json; exits 1 when tickfan fails.
 *
 * What leaks (forged quotes, denied subjects) is asserted by `npm test` (broker/adversary.test.ts);
 * this command holds what needs time and a quiet machine: latency and memory under attack.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { natsServerAuthorization } from '../broker/test-support/targets.ts'
import { FLOODS, WATCHER, floodAuthorization, type Flood, type FloodTarget } from './adversary/floods.ts'
import { judgeFlood, GAP_LIMIT_MS, RSS_GROWTH_LIMIT_BYTES, type FloodVerdict } from './adversary/judge.ts'
import { sampleMemory } from './harness/memory.ts'
import { coreLayout, ROOT, runLoad, startNatsServerProcess, startTickfanProcess, type BrokerProcess } from './harness/processes.ts'
import type { GapWindow } from './load/gap-watcher.ts'

const CLI = {
  floods: { type: 'list', default: FLOODS.map((f) => f.name), help: `Floods to run: ${FLOODS.map((f) => f.name).join(', ')}` },
  targets: { type: 'list', default: ['tickfan', 'nats-server'], help: 'Brokers to attack: tickfan, nats-server' },
  durationMs: { type: 'integer', default: 3000, min: 500, help: 'How long each flood lasts' },
  workers: { type: 'integer', default: 1, min: 1, help: 'tickfan workers' },
  repeat: { type: 'integer', default: 1, min: 1, help: 'Runs of each flood against each broker (the report gives the range; every run of tickfan is judged)' }
} satisfies OptionTable

interface FloodRun {
  flood: string
  target: FloodTarget['name']
  run: number
  longestGapMs: number
  longestGapEndedAtMs: number
  ticksSent: number
  ticksReceived: number
  timerLateMaxMs: number
  rssStartBytes: number
  rssPeakBytes: number
  error: string | null
  facts: Record<string, number | string>
  verdict: FloodVerdict
  reasons: string[]
}

/** The bystander process, driven one command at a time. */
interface Watcher {
  ask: <T>(cmd: object, answer: string) => Promise<T>
  stop: () => Promise<void>
}

function startWatcher (cpus: string | undefined): Watcher {
  let waiting: { answer: string, resolve: (msg: unknown) => void } | null = null
  const { child, result } = runLoad<unknown>('gap-watcher.ts', {}, cpus, (msg) => {
    const m = msg as { type: string }
    if (waiting !== null && m.type === waiting.answer) { const w = waiting; waiting = null; w.resolve(m) }
  })
  let failure: Error | null = null
  result.catch((err: Error) => { failure = err })
  return {
    ask: async <T>(cmd: object, answer: string): Promise<T> => {
      if (failure !== null) throw failure
      const reply = new Promise<unknown>((resolve) => { waiting = { answer, resolve } })
      child.send(cmd)
      return await Promise.race([reply, result.then(() => { throw new Error('the bystander exited') })]) as T
    },
    stop: async () => { child.send({ type: 'exit' }); await result.catch(() => {}) }
  }
}

async function startTarget (
  name: FloodTarget['name'],
  flood: Flood,
  authFile: string,
  natsConfig: string,
  cpus: string | undefined,
  workers: number
): Promise<{ target: FloodTarget, pid: number, died: Promise<string>, stop: () => Promise<void> }> {
  const b: BrokerProcess = name === 'tickfan'
    ? await startTickfanProcess(cpus, ['--auth', authFile, ...(flood.tickfanArgs ?? [])], workers)
    : await startNatsServerProcess(cpus, 0, natsConfig)
  const target: FloodTarget = { name, port: b.port, httpPort: b.httpPort, natsUrl: b.natsUrl }
  return { target, pid: b.pid, died: b.died, stop: b.stop }
}

const MiB = 1024 * 1024
const fmtMiB = (bytes: number): string => `${bytes >= 0 ? '+' : ''}${(bytes / MiB).toFixed(1)} MiB`

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run test:adversary --', 'Floods the broker as an attacker would; a bystander measures its delivery gaps, and the broker\'s memory is sampled.', CLI))
    return
  }
  for (const f of o.floods) if (!FLOODS.some((x) => x.name === f)) throw new UsageError(`--floods: unknown flood ${JSON.stringify(f)}; known: ${FLOODS.map((x) => x.name).join(', ')}`)
  for (const t of o.targets) if (t !== 'tickfan' && t !== 'nats-server') throw new UsageError(`--targets: unknown target ${JSON.stringify(t)}; known: tickfan, nats-server`)
  if (o.targets.includes('nats-server') && natsServerVersion() === null) {
    throw new UsageError('nats-server is not on PATH: install it (Debian: apt-get install -y nats-server), or run with --targets tickfan')
  }
  const layout = coreLayout()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-adversary-'))
  const { authorization, monitoring } = floodAuthorization()
  const authFile = path.join(dir, 'auth.json')
  writeFileSync(authFile, JSON.stringify({ authorization, monitoring }))
  const natsConfig = natsServerAuthorization(authorization)
  const watcher = startWatcher(layout.load)
  const runs: FloodRun[] = []
  const floods = FLOODS.filter((f) => o.floods.includes(f.name))
  process.stdout.write(`${floods.length} floods of ${o.durationMs} ms, ${o.repeat} run(s) each; broker on cores ${layout.broker ?? 'any'}, attackers and bystander on ${layout.load ?? 'any'}\n`)
  try {
    for (const [i, flood] of floods.entries()) {
      process.stdout.write(`\n[${i + 1}/${floods.length}] ${flood.name}: ${flood.what}\n`)
      for (let run = 1; run <= o.repeat; run++) for (const name of flood.targets.filter((t) => o.targets.includes(t))) {
        const broker = await startTarget(name, flood, authFile, natsConfig, layout.broker, o.workers)
        let dead: string | null = null
        void broker.died.then((how) => { dead = `the broker ${how}` })
        try {
          await flood.setup?.(broker.target)
          await watcher.ask({ type: 'connect', url: broker.target.natsUrl, ...WATCHER }, 'connected')
          await new Promise((resolve) => setTimeout(resolve, 300))
          const memory = sampleMemory(broker.pid, 50)
          await watcher.ask({ type: 'start' }, 'started')
          // A broker that dies mid-flood fails the run; the attack's clients may never hear of it.
          const facts = await Promise.race([
            flood.attack(broker.target, o.durationMs),
            broker.died.then((how): Record<string, string> => ({ 'the broker': how }))
          ])
          await new Promise((resolve) => setTimeout(resolve, 1000)) // the aftermath counts too
          const window = await watcher.ask<GapWindow>({ type: 'stop' }, 'window')
          const mem = memory.stop()
          await watcher.ask({ type: 'disconnect' }, 'disconnected')
          const measured = {
            longestGapMs: window.longestGapMs,
            timerLateMaxMs: window.timerLateMaxMs,
            rssStartBytes: mem.startBytes,
            rssPeakBytes: mem.peakBytes,
            heldBytes: name === 'tickfan' ? flood.heldBytes ?? 0 : 0,
            error: dead ?? (window.error === null ? null : `the bystander's connection: ${window.error}`)
          }
          const { verdict, reasons } = judgeFlood(measured)
          const { longestGapEndedAtMs, ticksSent, ticksReceived } = window
          runs.push({
            flood: flood.name, target: name, run, ...measured, longestGapEndedAtMs, ticksSent, ticksReceived,
            facts, verdict, reasons
          })
          const factText = Object.entries(facts).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`).join(', ')
          process.stdout.write(`  ${name.padEnd(11)}  longest gap ${window.longestGapMs.toFixed(0).padStart(5)} ms  RSS ${fmtMiB(mem.peakBytes - mem.startBytes).padStart(10)}` +
            `  ${name === 'tickfan' ? verdict : '(reference)'}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}\n               ${factText}\n`)
        } finally {
          await broker.stop()
        }
      }
    }
  } finally {
    await watcher.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const command = `npm run test:adversary -- ${process.argv.slice(2).join(' ')}`.trim()
  writeReport(command, o, floods, runs, layout.broker)
  const failed = runs.filter((r) => r.target === 'tickfan' && r.verdict === 'FAIL')
  const unsure = runs.filter((r) => r.target === 'tickfan' && r.verdict === 'inconclusive')
  process.stdout.write(`\ntickfan: ${runs.filter((r) => r.target === 'tickfan' && r.verdict === 'PASS').length} passed, ${failed.length} failed, ${unsure.length} inconclusive. Report: reports/adversary/summary.md\n`)
  if (failed.length > 0) process.exitCode = 1
})

function writeReport (
  command: string,
  options: object,
  floods: readonly Flood[],
  runs: FloodRun[],
  brokerCores: string | undefined
): void {
  const of = (flood: string, target: string): FloodRun[] => runs.filter((x) => x.flood === flood && x.target === target)
  /** The range of a figure over the runs, as "lo–hi" (one value when they agree). */
  const range = (flood: string, target: string, f: (r: FloodRun) => number, show: (n: number) => string): string => {
    const values = of(flood, target).map(f)
    if (values.length === 0) return 'n/a'
    const lo = show(Math.min(...values))
    const hi = show(Math.max(...values))
    return lo === hi ? lo : `${lo} to ${hi}`
  }
  const ms = (n: number): string => `${n.toFixed(0)} ms`
  const gap = (flood: string, target: string): string => range(flood, target, (r) => r.longestGapMs, ms)
  const growth = (r: FloodRun): number => r.rssPeakBytes - r.rssStartBytes
  const rss = (flood: string, target: string): string => range(flood, target, growth, fmtMiB)
  const verdicts = (flood: string): string => {
    const mine = of(flood, 'tickfan')
    if (mine.length === 0) return 'n/a'
    const counts = (['PASS', 'FAIL', 'inconclusive'] as const).map((v) => [v, mine.filter((r) => r.verdict === v).length] as const).filter(([, n]) => n > 0)
    const reasons = [...new Set(mine.flatMap((r) => r.reasons))]
    const tally = counts.map(([v, n]) => mine.length === 1 ? v : `${v} ${n}/${mine.length}`).join(', ')
    return tally + (reasons.length > 0 ? `: ${reasons.join('; ')}` : '')
  }
  const lines = [
    '# The broker under attack: floods side by side with nats-server', '',
    `${new Date().toISOString()}; Node ${process.version}; ${os.availableParallelism()} cores, broker on cores ${brokerCores ?? 'any'}; made by \`${command}\`.`, '',
    `During each flood a bystander publishes a tick to itself every 10 ms; "gap" is the longest time between two ticks it received (limit ${GAP_LIMIT_MS} ms),`,
    `"RSS" the broker's peak resident memory over its start, sampled every 50 ms (limit ${RSS_GROWTH_LIMIT_BYTES / MiB} MiB, plus what a flood's configuration keeps:`,
    'the cache bound in cache-bytes). tickfan is judged on every run; nats-server 2.9 runs the same attack under the same users where it applies.',
    'Ranges are over the runs.', '',
    '| flood | tickfan gap | tickfan RSS | verdict | nats-server gap | nats-server RSS | review finding |', '|---|---|---|---|---|---|---|',
    ...floods.map((f) => `| ${f.name} | ${gap(f.name, 'tickfan')} | ${rss(f.name, 'tickfan')} | ${verdicts(f.name)} | ` +
      `${gap(f.name, 'nats-server')} | ${rss(f.name, 'nats-server')} | ${f.review} |`),
    '', '## What each flood did', '',
    ...floods.flatMap((f) => [`- **${f.name}**: ${f.what}.`, ...runs.filter((r) => r.flood === f.name).map((r) =>
      `  - ${r.target}, run ${r.run}: ${Object.entries(r.facts).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`).join(', ')}; bystander ${r.ticksReceived} of ${r.ticksSent} ticks, its longest gap ending ${r.longestGapEndedAtMs.toFixed(0)} ms into the flood, its timer at most ${r.timerLateMaxMs.toFixed(0)} ms late.`)]),
    ''
  ]
  const dir = path.join(ROOT, 'reports/adversary')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), command, options, runs }, null, 2)}\n`)
  writeFileSync(path.join(dir, 'summary.md'), lines.join('\n'))
}
