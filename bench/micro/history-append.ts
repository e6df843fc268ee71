/**
 * Micro benchmark of the trade history's append alone: 128-byte messages on 100 subjects,
 * each handed over as a view of a larger buffer (as the router hands one over), stored in a
 * HistoryStream with the broker's default limits. `--max-bytes` small keeps the stream full (one
 * removal per append, the steady state); the default 256 MiB lets it grow. The clock is read
 * once per 100 appends, as the router reads it once per socket read.
 *
 * With `--root`, another checkout's history runs too, interleaved with this one's, so a change is
 * measured against its reference in one run: ns per append for each, and the ratio per round.
 *
 *   node --min-semi-space-size=16 --initial-old-space-size=64 --max-inlined-bytecode-size-cumulative=1840 \
 *     --import tsx bench/micro/history-append.ts \
 *     [--max-bytes 33554432] [--root DIR] [--rounds 5]
 *
 * (The node flags are the broker's: broker/process-settings.ts.)
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { helpText, parseOptions, runMain, type OptionTable } from '../../lib/cli-options.ts'
import type * as HistoryModule from '../../broker/history.ts'
import { ROOT } from '../harness/processes.ts'
import { importFromCheckout } from '../harness/reference-build.ts'

export const CLI = {
  appends: { type: 'integer', default: 3_000_000, min: 1000, help: 'Appends per measurement' },
  maxBytes: { type: 'integer', default: 256 * 1024 * 1024, min: 1024, help: 'The stream\'s byte limit (small: full from the start)' },
  payload: { type: 'integer', default: 128, min: 1, help: 'Bytes per message' },
  rounds: { type: 'integer', default: 5, min: 1, help: 'Measurements of each checkout, interleaved' },
  root: { type: 'string', default: '', help: 'A reference checkout to measure against (default: none)' }
} satisfies OptionTable

type Options = ReturnType<typeof parseOptions<typeof CLI>>

/** Loads `root`'s HistoryStream. */
async function historyOf (root: string): Promise<typeof HistoryModule.HistoryStream> {
  const mod = await importFromCheckout<typeof HistoryModule>(root, 'broker/history.ts')
  return mod.HistoryStream
}

/** ns per append into a fresh stream of `Stream`; also checks that every message was counted. */
export function measureAppends (Stream: typeof HistoryModule.HistoryStream, o: Options): number {
  const subjects = Array.from({ length: 100 }, (_, i) => `trade.bench.S${i}`)
  const input = Buffer.alloc(64 * 1024, 120)
  const stride = o.payload + 22 // a PUB line's worth between bodies, as in a read buffer
  const stream = new Stream({
    name: 'trades',
    subjects: ['trade.>'],
    maxAgeMs: 600_000,
    maxBytes: o.maxBytes,
    maxMsgsPerSubject: 100_000,
    duplicateWindowMs: 120_000,
    maxMsgIds: 100_000
  }, Date.now())
  let at = 0
  let now = Date.now()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < o.appends; i++) {
    if (at + o.payload > input.length) at = 0
    if (i % 100 === 0) now = Date.now()
    stream.append(subjects[i % 100] as string, input.subarray(at, at + o.payload), 0, undefined, now)
    at += stride
  }
  const ns = Number(process.hrtime.bigint() - t0) / o.appends
  if (stream.lastSeq !== o.appends) throw new Error(`${o.appends} appends, last sequence ${stream.lastSeq}: the method is broken`)
  return ns
}

export interface AppendRound { ns: number, referenceNs?: number }

export async function runHistoryAppend (o: Options, print: (line: string) => void): Promise<AppendRound[]> {
  const Candidate = await historyOf(ROOT)
  const Reference = o.root === '' ? null : await historyOf(path.resolve(o.root))
  // One unreported round each first: the JIT settles, and the process's heap has grown to what a
  // stream of this size takes, so the first reported stream does not fault in pages the next reuses.
  measureAppends(Candidate, o)
  if (Reference !== null) measureAppends(Reference, o)
  const rounds: AppendRound[] = []
  for (let r = 0; r < o.rounds; r++) {
    // Alternate which goes first, so neither always runs on the other's garbage.
    const referenceFirst = Reference !== null && r % 2 === 1
    const referenceNs = referenceFirst ? measureAppends(Reference, o) : undefined
    const ns = measureAppends(Candidate, o)
    const round = Reference === null
      ? { ns }
      : { ns, referenceNs: referenceNs ?? measureAppends(Reference, o) }
    rounds.push(round)
    print(round.referenceNs === undefined
      ? `round ${r + 1}: ${ns.toFixed(1)} ns per append`
      : `round ${r + 1}: ${ns.toFixed(1)} ns per append, reference ${round.referenceNs.toFixed(1)} (ratio ${(ns / round.referenceNs).toFixed(3)})`)
  }
  return rounds
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(async () => {
    const o = parseOptions(process.argv.slice(2), CLI)
    if (o.help) { process.stdout.write(helpText('npx tsx bench/micro/history-append.ts', 'The trade history\'s append alone: ns per append, against a reference checkout with --root.', CLI)); return }
    process.stdout.write(`${o.appends.toLocaleString('en-US')} appends of ${o.payload} B on 100 subjects per round, limit ${o.maxBytes.toLocaleString('en-US')} B\n`)
    await runHistoryAppend(o, (line) => process.stdout.write(`${line}\n`))
  })
}
