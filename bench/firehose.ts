/**
 * `npm run bench:firehose`: one publisher to one subscriber at full speed on a plain subject,
 * what `nats bench` does first, on tickfan and nats-server in the same run, interleaved. The
 * publisher writes every message as fast as TCP takes them (no window; it waits only for its
 * socket to drain); the subscriber counts. Reported per run: messages delivered (all, or where
 * it stopped), whether the subscriber was cut off, deliveries per second from the first write to
 * the last delivery, and the broker's CPU per delivery. Raw sockets (load/lockstep.ts), so the
 * generator is not what limits the rate. Writes reports/firehose/.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { LockstepLoad } from './harness/lockstep.ts'
import { coreLayout, ROOT, startNatsServerProcess, startTickfanProcess, type BrokerProcess } from './harness/processes.ts'
import { median } from './harness/stats.ts'

const CLI = {
  messages: { type: 'integer', default: 2_000_000, min: 1000, help: 'Messages per run' },
  payload: { type: 'integer', default: 128, min: 1, help: 'Payload bytes' },
  repeat: { type: 'integer', default: 3, min: 1, help: 'Runs per broker, interleaved' },
  workers: { type: 'integer', default: 1, min: 1, help: 'tickfan broker workers (the publisher and the subscriber are dealt to them as any clients)' },
  warmup: { type: 'integer', default: 500_000, min: 0, help: 'Messages of one unmeasured run per broker first (JIT and buffers warmed, as a broker that has been up a while)' },
  out: { type: 'string', default: path.join(ROOT, 'reports/firehose'), help: 'Where the report goes' }
} satisfies OptionTable

interface Run {
  target: BrokerProcess['name']
  run: number
  delivered: number
  cutOff: boolean
  elapsedMs: number
  deliveriesPerSec: number
  brokerNsPerDelivery: number
  generatorBusy: number
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:firehose --', 'One publisher to one subscriber at full speed, tickfan and nats-server interleaved.', CLI)); return }
  if (natsServerVersion() === null) throw new UsageError('nats-server is not on PATH: install it (Debian: apt-get install -y nats-server)')
  const layout = coreLayout()
  const brokers = [await startTickfanProcess(layout.broker, [], o.workers), await startNatsServerProcess(layout.broker)]
  const load = new LockstepLoad(layout.load)
  const runs: Run[] = []
  process.stdout.write(`${o.messages.toLocaleString('en-US')} messages of ${o.payload} B per run, ${o.repeat} run(s) each; broker on cores ${layout.broker ?? 'any'}, load on ${layout.load ?? 'any'}\n`)
  try {
    if (o.warmup > 0) {
      for (const broker of brokers) {
        await load.open(`warmup-${broker.name}`, { url: broker.natsUrl, path: 'plain', subscribers: 1, subjects: 1, payloadBytes: o.payload })
        await load.firehose(`warmup-${broker.name}`, broker.pid, o.warmup)
      }
      process.stdout.write(`  (each broker warmed up with ${o.warmup.toLocaleString('en-US')} messages, not counted)\n`)
    }
    for (let run = 1; run <= o.repeat; run++) {
      for (const broker of run % 2 === 1 ? brokers : [...brokers].reverse()) {
        const id = `firehose-${broker.name}-${run}`
        await load.open(id, { url: broker.natsUrl, path: 'plain', subscribers: 1, subjects: 1, payloadBytes: o.payload })
        const f = await load.firehose(id, broker.pid, o.messages)
        const r: Run = {
          target: broker.name,
          run,
          delivered: f.delivered,
          cutOff: f.closed,
          elapsedMs: f.elapsedMs,
          deliveriesPerSec: f.delivered / (f.elapsedMs / 1000),
          brokerNsPerDelivery: f.brokerNsPerDelivery,
          generatorBusy: f.cpuSeconds * 1000 / Math.max(1, f.elapsedMs)
        }
        runs.push(r)
        process.stdout.write(`  run ${run} ${broker.name.padEnd(11)} ${r.delivered.toLocaleString('en-US').padStart(10)} delivered${r.cutOff ? ' (subscriber cut off)' : ''}` +
          `  ${(r.deliveriesPerSec / 1e6).toFixed(2)}M/s  broker ${r.brokerNsPerDelivery.toFixed(0)} ns per delivery  generator ${(r.generatorBusy * 100).toFixed(0)}% busy\n`)
      }
    }
  } finally {
    await load.stop()
    for (const b of brokers) await b.stop()
  }
  const of = (t: string): Run[] => runs.filter((r) => r.target === t)
  const rate = (t: string): number => median(of(t).map((r) => r.deliveriesPerSec))
  const cpu = (t: string): number => median(of(t).map((r) => r.brokerNsPerDelivery))
  const ratio = rate('tickfan') / rate('nats-server')
  const allDelivered = (t: string): string => `${of(t).filter((r) => r.delivered === o.messages && !r.cutOff).length} of ${of(t).length}`
  const command = `npm run bench:firehose -- ${process.argv.slice(2).join(' ')}`.trim()
  const lines = [
    '# One publisher to one subscriber at full speed', '',
    `${new Date().toISOString()}; Node ${process.version}; ${os.availableParallelism()} cores, broker on cores ${layout.broker ?? 'any'}, load on ${layout.load ?? 'any'}; made by \`${command}\`.`, '',
    `${o.messages.toLocaleString('en-US')} messages of ${o.payload} B on a plain subject per run; the publisher writes as fast as TCP takes them, the subscriber counts (raw sockets).`,
    `Each broker first ran ${o.warmup.toLocaleString('en-US')} messages unmeasured; then medians of ${o.repeat} interleaved runs.`, '',
    '| broker | runs with every message delivered, nobody cut off | deliveries/s (median) | broker CPU per delivery (median) |', '|---|---|---|---|',
    ...['tickfan', 'nats-server'].map((t) => `| ${t} | ${allDelivered(t)} | ${(rate(t) / 1e6).toFixed(2)}M | ${cpu(t).toFixed(0)} ns |`), '',
    `tickfan / nats-server deliveries/s: **${ratio.toFixed(2)}** (target >= 0.8).`, '',
    '| run | broker | delivered | cut off | deliveries/s | broker ns per delivery | generator busy |', '|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.run} | ${r.target} | ${r.delivered.toLocaleString('en-US')} | ${r.cutOff ? 'yes' : 'no'} | ${(r.deliveriesPerSec / 1e6).toFixed(2)}M | ${r.brokerNsPerDelivery.toFixed(0)} | ${(r.generatorBusy * 100).toFixed(0)}% |`), ''
  ]
  mkdirSync(o.out, { recursive: true })
  writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), command, options: o, runs }, null, 2)}\n`)
  writeFileSync(path.join(o.out, 'summary.md'), lines.join('\n'))
  process.stdout.write(`\ntickfan / nats-server deliveries/s: ${ratio.toFixed(2)}; every message delivered: tickfan ${allDelivered('tickfan')}, nats-server ${allDelivered('nats-server')}. Report: ${path.relative(ROOT, o.out)}/summary.md\n`)
})
