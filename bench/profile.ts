/**
 * `npm run bench:profile`: where the broker's time per delivery goes. Runs one tickfan broker
 * under `node --cpu-prof` while the lockstep load (bench/load/lockstep.ts, the load of
 * `bench:ci`) fans messages out, then writes to the report folder (reports/profile/ by default):
 * - `broker.cpuprofile`: the V8 profile (open it in Chrome DevTools' Performance panel);
 * - `flame.svg`: the flame graph;
 * - `summary.md` and `report.html` (which shows the flame graph): the broker's CPU per
 *   delivery while profiled, and the shares of its busy time by module and by function.
 * The profiler's own overhead inflates the CPU per delivery a little; the shares are what it
 * is for.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { escapeHtml } from '../lib/html.ts'
import { LockstepLoad } from './harness/lockstep.ts'
import { coreLayout, ROOT, startTickfanProcess } from './harness/processes.ts'
import { lockstepPaths } from './load/lockstep.ts'
import { flameGraphSvg, summarizeProfile, type Share } from './report/profile.ts'
import { readCpuProfile } from './report/profile-file.ts'

const CLI = {
  paths: { type: 'list', default: ['plain', 'last-value'], help: 'What the load publishes: plain, last-value, trade (events the trade history keeps); one after the other, all in the profile' },
  messages: { type: 'integer', default: 1_000_000, min: 1000, help: 'Messages per path while profiled (lockstep rounds of 100; start-up, in the profile too, weighs less the more there are)' },
  subscribers: { type: 'integer', default: 10, min: 1, help: 'Subscribers in the fan-out' },
  out: { type: 'string', default: path.join(ROOT, 'reports/profile'), help: 'Where the report goes' },
  root: { type: 'string', default: ROOT, help: 'Profile the broker of another checkout (to compare builds)' }
} satisfies OptionTable

function table (rows: readonly Share[]): string[] {
  return ['| share of busy time | self time | where |', '|---|---|---|',
    ...rows.map((r) => `| ${(100 * r.share).toFixed(1)}% | ${(r.selfUs / 1000).toFixed(0)} ms | \`${r.name}\` |`)]
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) {
    process.stdout.write(helpText('npm run bench:profile --', 'A CPU profile and flame graph of the broker while it fans out.', CLI))
    return
  }
  const paths = lockstepPaths(o.paths)
  const layout = coreLayout()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-profile-'))
  const t0 = Date.now()
  const say = (line: string): void => { process.stdout.write(`  [${String(Math.round((Date.now() - t0) / 1000)).padStart(3)} s] ${line}\n`) }
  process.stdout.write(`tickfan bench:profile: ${paths.join(' and ')} fan-out to ${o.subscribers} subscribers, ${o.messages} messages each\n`)
  const broker = await startTickfanProcess(layout.broker, [], 1, path.resolve(o.root), ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  const load = new LockstepLoad(layout.load)
  const perDelivery: string[] = []
  try {
    for (const p of paths) {
      await load.open(p, { url: broker.natsUrl, path: p, subscribers: o.subscribers, subjects: 100, payloadBytes: 128 })
      await load.measure(p, broker.pid, 10_000) // warm-up: the JIT settles before what counts
      say(`${p}: measuring ${o.messages} messages`)
      const m = await load.measure(p, broker.pid, o.messages)
      if (m.delivered !== m.expected) throw new Error(`${p}: ${m.expected - m.delivered} messages were not delivered`)
      perDelivery.push(`| ${p} | ${m.brokerNsPerDelivery.toFixed(0)} ns | ${m.delivered} |`)
      say(`${p}: ${m.brokerNsPerDelivery.toFixed(0)} ns of broker CPU per delivery (profiled)`)
    }
  } finally {
    await load.stop()
    await broker.stop()
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`the broker wrote no CPU profile into ${dir}`)
  mkdirSync(o.out, { recursive: true })
  const profile = readCpuProfile(path.join(dir, file))
  writeFileSync(path.join(o.out, 'broker.cpuprofile'), JSON.stringify(profile))
  rmSync(dir, { recursive: true, force: true })
  const summary = summarizeProfile(profile)
  const title = `tickfan broker, ${paths.join(' + ')} fan-out to ${o.subscribers} subscribers`
  const svg = flameGraphSvg(profile, title)
  writeFileSync(path.join(o.out, 'flame.svg'), svg)
  const command = `npm run bench:profile -- --paths ${paths.join(',')} --messages ${o.messages} --subscribers ${o.subscribers}`
  const md = [
    '# Where the broker\'s time goes', '',
    `Command: \`${command}\` (${new Date().toISOString()}, ${os.availableParallelism()} cores, Node ${process.version}).`,
    `Busy ${(summary.busyUs / 1000).toFixed(0)} ms, idle ${(summary.idleUs / 1000).toFixed(0)} ms while profiled. Flame graph: [flame.svg](flame.svg).`, '',
    '| path | broker CPU per delivery (profiled) | deliveries |', '|---|---|---|', ...perDelivery, '',
    '## By module (self time)', '', ...table(summary.byModule), '',
    '## By function (self time, top 25)', '', ...table(summary.byFunction), ''
  ].join('\n')
  writeFileSync(path.join(o.out, 'summary.md'), md)
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif">` +
    `<h1>Where the broker's time goes</h1><p><code>${command}</code></p>${svg}<pre>${escapeHtml(md)}</pre></body>\n`
  writeFileSync(path.join(o.out, 'report.html'), html)
  say(`report: ${path.relative(process.cwd(), path.join(o.out, 'summary.md'))} (flame graph: flame.svg, report.html)`)
})
