/**
 * `npm run bench:young-generation`: what V8's young-generation size (broker/process-settings.ts,
 * NODE_FLAGS) does to the broker's CPU per delivery when its load comes and goes. Broker
 * processes are started in turn with and without the flag (A B A B ...); each gets the lockstep
 * fan-out of `bench:ci` in samples with an idle pause before each, as a broker between bursts
 * sees, and its median CPU per delivery is reported. Writes reports/broker/young-generation.*.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { YOUNG_GENERATION_FLAG } from '../broker/process-settings.ts'
import { LockstepLoad } from './harness/lockstep.ts'
import { coreLayout, ROOT, startTickfanProcess } from './harness/processes.ts'
import { median } from './harness/stats.ts'

const CLI = {
  processes: { type: 'integer', default: 3, min: 1, help: 'Broker processes per setting, started in turn' },
  samples: { type: 'integer', default: 12, min: 2, help: 'Samples per process (the first, a warm-up, is not counted)' },
  messages: { type: 'integer', default: 50_000, min: 1000, help: 'Messages per sample (lockstep rounds of 100)' },
  subscribers: { type: 'integer', default: 10, min: 1, help: 'Subscribers in the fan-out' },
  idleMs: { type: 'integer', default: 1500, min: 0, help: 'Idle pause before each sample' },
  out: { type: 'string', default: path.join(ROOT, 'reports/broker'), help: 'Where the report goes' }
} satisfies OptionTable

/** The flag that undoes YOUNG_GENERATION_FLAG (V8 takes the last value of a flag given twice: 0 is its default). */
const WITHOUT = [`${YOUNG_GENERATION_FLAG.split('=')[0] as string}=0`]

interface ProcessResult { setting: 'with' | 'without', process: number, samplesNs: number[], medianNs: number }

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:young-generation --', 'Broker CPU per delivery with and without the young-generation flag, with idle pauses.', CLI)); return }
  const layout = coreLayout()
  const load = new LockstepLoad(layout.load)
  const results: ProcessResult[] = []
  const started = Date.now()
  try {
    for (let p = 1; p <= o.processes; p++) {
      for (const setting of ['without', 'with'] as const) {
        const broker = await startTickfanProcess(layout.broker, [], 1, ROOT, setting === 'with' ? [] : WITHOUT)
        try {
          const id = `${setting}-${p}`
          await load.open(id, { url: broker.natsUrl, path: 'plain', subscribers: o.subscribers, subjects: 100, payloadBytes: 128 })
          const samplesNs: number[] = []
          for (let s = 0; s < o.samples; s++) {
            await new Promise((resolve) => setTimeout(resolve, o.idleMs))
            const m = await load.measure(id, broker.pid, o.messages)
            if (m.stalls > 0 || m.delivered !== m.expected) throw new Error(`${id}: ${m.delivered} of ${m.expected} delivered; the sample is not valid`)
            if (s > 0) samplesNs.push(m.brokerNsPerDelivery)
          }
          const r = { setting, process: p, samplesNs, medianNs: median(samplesNs) }
          results.push(r)
          process.stdout.write(`  [${Math.round((Date.now() - started) / 1000)} s] process ${p}/${o.processes} ${setting.padEnd(7)} the flag: median ${r.medianNs.toFixed(0)} ns per delivery (${samplesNs.map((n) => n.toFixed(0)).join(' ')})\n`)
        } finally {
          await broker.stop()
        }
      }
    }
  } finally {
    await load.stop()
  }
  const range = (setting: 'with' | 'without'): string => {
    const medians = results.filter((r) => r.setting === setting).map((r) => r.medianNs)
    return `${Math.min(...medians).toFixed(0)}-${Math.max(...medians).toFixed(0)} ns`
  }
  mkdirSync(o.out, { recursive: true })
  writeFileSync(path.join(o.out, 'young-generation.json'), `${JSON.stringify({ date: new Date().toISOString(), flags: [YOUNG_GENERATION_FLAG], options: o, results }, null, 2)}\n`)
  const md = [
    '# Broker CPU per delivery and the young generation',
    '',
    `\`npm run bench:young-generation\` on ${new Date().toISOString().slice(0, 10)}: ${o.processes} broker process(es) per setting, started in turn; in each,`,
    `${o.samples - 1} samples (after one warm-up) of ${o.messages.toLocaleString('en-US')} messages fanned out to ${o.subscribers} subscribers (lockstep, as \`bench:ci\`), ${o.idleMs} ms idle before each.`,
    '',
    '| process | setting | median ns per delivery | samples |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.process} | ${r.setting === 'with' ? YOUNG_GENERATION_FLAG : 'V8 default'} | ${r.medianNs.toFixed(0)} | ${r.samplesNs.map((n) => n.toFixed(0)).join(' ')} |`),
    '',
    `Medians per process: ${range('without')} with V8's default, ${range('with')} with \`${YOUNG_GENERATION_FLAG}\`.`,
    ''
  ].join('\n')
  writeFileSync(path.join(o.out, 'young-generation.md'), md)
  process.stdout.write(`\nMedians per process: ${range('without')} with V8's default, ${range('with')} with ${YOUNG_GENERATION_FLAG}. Report: ${path.relative(process.cwd(), path.join(o.out, 'young-generation.md'))}\n`)
})
