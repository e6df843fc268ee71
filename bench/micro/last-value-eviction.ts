/**
 * Micro benchmark of the last-value cache at its subject limit while new subjects keep
 * arriving (a feed that sprawls, or a publisher that means harm): every offer evicts one
 * subject. Its cost per offer should not grow with the cache's size; an eviction that scans from
 * the start of V8's ordered hash table pays for every deleted entry still in it, so it did.
 *
 * With `--root`, another checkout's cache runs too, interleaved, so a change is measured against
 * its reference in one run.
 *
 *   node --import tsx bench/micro/last-value-eviction.ts [--sizes 10000,100000] [--offers 200000] [--root DIR]
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../../lib/cli-options.ts'
import type * as LastValueModule from '../../broker/last-value.ts'
import type * as WireModule from '../../broker/wire.ts'
import { SubjectClass } from '../../broker/subject-classes.ts'
import { ROOT } from '../harness/processes.ts'
import { importFromCheckout } from '../harness/reference-build.ts'

export const CLI = {
  sizes: { type: 'list', default: ['10000', '100000'], help: 'Cache subject limits to measure' },
  offers: { type: 'integer', default: 200_000, min: 1000, help: 'New subjects offered to the full cache per measurement' },
  rounds: { type: 'integer', default: 3, min: 1, help: 'Measurements of each checkout, interleaved' },
  root: { type: 'string', default: '', help: 'A reference checkout to measure against (default: none)' }
} satisfies OptionTable

interface Checkout {
  label: string
  Cache: typeof LastValueModule.LastValueCache
  Message: typeof WireModule.RoutedMessage
}

async function checkoutOf (label: string, root: string): Promise<Checkout> {
  const lv = await importFromCheckout<typeof LastValueModule>(root, 'broker/last-value.ts')
  const wire = await importFromCheckout<typeof WireModule>(root, 'broker/wire.ts')
  return { label, Cache: lv.LastValueCache, Message: wire.RoutedMessage }
}

/** ns per offer of a new subject into a cache already full at `size` subjects; checks the evictions. */
export function measureEvictions (c: Checkout, size: number, offers: number): number {
  const cache = new c.Cache({ maxSubjects: size })
  const body = Buffer.alloc(64, 120)
  const offer = (i: number): void => {
    cache.offer(new c.Message(`quote.sprawl.S${i}`, undefined, SubjectClass.LastValue, body, 0, i, undefined))
  }
  for (let i = 0; i < size; i++) offer(i)
  const started = process.hrtime.bigint()
  for (let i = size; i < size + offers; i++) offer(i)
  const ns = Number(process.hrtime.bigint() - started) / offers
  if (cache.size !== size || cache.evicted !== offers) throw new Error(`${c.label}: ${cache.size} subjects and ${cache.evicted} evictions, expected ${size} and ${offers}`)
  return ns
}

async function main (): Promise<void> {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) return void process.stdout.write(helpText('node --import tsx bench/micro/last-value-eviction.ts', 'The last-value cache full, new subjects arriving: ns per offer, against a reference checkout with --root.', CLI))
  const sizes = o.sizes.map(Number)
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--sizes ${o.sizes.join(',')}: positive integers`)
  const checkouts = [await checkoutOf('this checkout', ROOT)]
  if (o.root !== '') checkouts.push(await checkoutOf(`reference ${o.root}`, path.resolve(o.root)))
  process.stdout.write(`${o.offers.toLocaleString('en-US')} new subjects offered to a full cache, ns per offer; Node ${process.version}\n`)
  for (let round = 1; round <= o.rounds; round++) {
    for (const size of sizes) {
      const cells = checkouts.map((c) => `${c.label} ${measureEvictions(c, size, o.offers).toFixed(0)}`)
      process.stdout.write(`round ${round}, ${size.toLocaleString('en-US')} subjects: ${cells.join('; ')}\n`)
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main)
