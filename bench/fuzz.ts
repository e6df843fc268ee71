/**
 * `npm run fuzz -- --minutes N`: runs every fuzz property (protocol parser, broker core, each
 * venue's feed handler) in rounds with fresh seeds until the time is up, printing progress every
 * ten seconds. A failure prints fast-check's shrunk counterexample and the seed that replays it
 * (`--seed`), and exits 1. CI runs the same properties briefly through vitest.
 */
import fc from 'fast-check'
import { BROKER_FUZZ_PROPERTIES, type FuzzProperty } from '../broker/fuzz-properties.ts'
import { helpText, parseOptions, runMain, type OptionTable } from '../lib/cli-options.ts'
import { VENUE_FUZZ_PROPERTIES } from '../feeds/handlers/fuzz-properties.ts'

const CLI = {
  minutes: { type: 'number', default: 1, min: 0.05, help: 'How long to fuzz' },
  runsPerRound: { type: 'integer', default: 500, min: 1, help: 'Runs of one property per round (one seed each round)' },
  seed: { type: 'integer', default: 0, help: 'Replay: run each property once more with this seed (0 = fresh random seeds)' }
} satisfies OptionTable

const PROPERTIES: FuzzProperty[] = [...BROKER_FUZZ_PROPERTIES, ...VENUE_FUZZ_PROPERTIES]

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run fuzz --', 'Fuzzes the NATS protocol parser, the broker core and the venue parsers with fast-check.', CLI)); return }
  const runs = new Map<string, number>(PROPERTIES.map((p) => [p.name, 0]))
  const started = Date.now()
  const deadline = started + o.minutes * 60_000
  let lastReport = started
  process.stdout.write(`fuzzing ${PROPERTIES.length} properties for ${o.minutes} min\n`)
  const report = (): void => {
    const total = [...runs.values()].reduce((a, b) => a + b, 0)
    const secs = (Date.now() - started) / 1000
    process.stdout.write(`  ${secs.toFixed(0).padStart(5)} s  ${total.toLocaleString('en-US')} runs (${Math.round(total / Math.max(secs, 0.001)).toLocaleString('en-US')}/s), no failure\n`)
  }
  do {
    for (const p of PROPERTIES) {
      const seed = o.seed !== 0 ? o.seed : (Math.random() * 2 ** 31) | 0
      const result = fc.check(p.property(), { numRuns: o.runsPerRound, seed })
      runs.set(p.name, (runs.get(p.name) ?? 0) + result.numRuns)
      if (result.failed) {
        process.stdout.write(`\nFAIL  ${p.name}\n  replay with: npm run fuzz -- --seed ${seed}\n${fc.defaultReportMessage(result) ?? ''}\n`)
        process.exit(1)
      }
      if (Date.now() - lastReport >= 10_000) { report(); lastReport = Date.now() }
      await new Promise<void>((resolve) => setImmediate(resolve)) // let Ctrl-C through
    }
  } while (o.seed === 0 && Date.now() < deadline)
  report()
  for (const [name, n] of runs) process.stdout.write(`  ${n.toLocaleString('en-US').padStart(10)}  ${name}\n`)
  process.stdout.write('PASS  no property failed\n')
})
