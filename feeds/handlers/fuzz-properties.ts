/**
 * Fuzz properties of the feed handlers, for fast-check (CI: `parsers.fuzz.test.ts`; long runs:
 * `npm run fuzz`). Each venue's handler gets streams of random text, random JSON, and real venue
 * messages with a field replaced, removed or cut short, and must never throw, never publish a
 * tick that breaks the canonical schema's rules (known instrument, finite positive prices and
 * sizes, bid <= ask), and give every reject a reason from the catalogue.
 */
import fc from 'fast-check'
import type { FuzzProperty } from '../../broker/fuzz-properties.ts'
import { DEFAULT_INSTRUMENTS, VENUES, type Venue } from '../instruments.ts'
import { VenueModel } from '../market-model.ts'
import type { Tick } from '../tick.ts'
import { newSession } from '../venues/protocol.ts'
import { VENUE_PROTOCOLS } from '../venues/venue-server.ts'
import { FeedHandler } from './feed-handler.ts'
import { RejectReason } from './parsed.ts'

/** Real messages of one venue, as its simulator encodes them. */
function realMessages (venue: Venue, n: number): string[] {
  const model = new VenueModel({ seed: 11, venue, instruments: DEFAULT_INSTRUMENTS, ratePerSec: 1000, bursts: null })
  const protocol = VENUE_PROTOCOLS[venue]
  const session = newSession()
  session.combined = true
  return Array.from(
    { length: n },
    (_, i) => protocol.encode({ event: model.next(), venueTimeMs: Date.UTC(2026, 10, 26) + i, id: i + 1 }, session)
  )
}

type Mutation = { kind: 'replace', at: number, value: unknown } | { kind: 'scale', at: number, factor: number } | { kind: 'remove', at: number } | { kind: 'truncate', at: number }

/** Applies a mutation to the n-th value (depth first) of a JSON document. */
function mutate (text: string, m: Mutation): string {
  if (m.kind === 'truncate') return text.slice(0, m.at % (text.length + 1))
  const root = JSON.parse(text) as unknown
  const slots: Array<{ parent: Record<string, unknown> | unknown[], key: string | number }> = []
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      slots.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(key) : key })
      walk(value)
    }
  }
  walk(root)
  if (slots.length === 0) return text
  const { parent, key } = slots[m.at % slots.length] as (typeof slots)[number]
  if (m.kind === 'scale') {
    // Nudge a number (or a decimal string) by a factor: near-misses such as a bid just above the ask.
    const slot = parent as Record<string | number, unknown>
    const value = slot[key]
    if (typeof value === 'number') slot[key] = value * m.factor
    else if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)) slot[key] = String(Number(value) * m.factor)
  } else if (m.kind === 'remove') {
    if (Array.isArray(parent)) parent.splice(key as number, 1)
    else delete parent[key as string]
  } else {
    (parent as Record<string | number, unknown>)[key] = m.value
  }
  return JSON.stringify(root)
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.oneof(fc.jsonValue(), fc.constantFrom('-1', '0', 'NaN', '1e309', '', '1.5e-300', 'BTCUSDT', -5, 0, 1e308)) }),
  fc.record({ kind: fc.constant('scale' as const), at: fc.nat(), factor: fc.oneof(fc.double({ min: 0.9, max: 1.1, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true })) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() })
)

const KNOWN_REASONS = new Set<string>(Object.values(RejectReason))
const SYMBOLS = new Set(DEFAULT_INSTRUMENTS.map((i) => i.symbol))

function checkTick (tick: Tick): void {
  const positive = (v: number): boolean => Number.isFinite(v) && v > 0
  if (!SYMBOLS.has(tick.symbol)) throw new Error(`published an unknown instrument: ${JSON.stringify(tick)}`)
  if (tick.type === 'quote') {
    if (![tick.bid, tick.ask, tick.bidSize, tick.askSize].every(positive)) throw new Error(`published a bad number: ${JSON.stringify(tick)}`)
    if (tick.bid > tick.ask) throw new Error(`published a crossed book: ${JSON.stringify(tick)}`)
  } else if (!positive(tick.price) || !positive(tick.size) || (tick.side !== 'buy' && tick.side !== 'sell')) {
    throw new Error(`published a bad trade: ${JSON.stringify(tick)}`)
  }
}

export const VENUE_FUZZ_PROPERTIES: FuzzProperty[] = VENUES.map((venue) => {
  const real = realMessages(venue, 200)
  const input = fc.oneof(
    fc.string({ maxLength: 200, size: 'max' }),
    fc.json({ maxDepth: 4 }),
    fc.constantFrom(...real),
    fc.tuple(fc.constantFrom(...real), mutation).map(([text, m]) => mutate(text, m))
  )
  return {
    name: `${venue} feed handler: random and mutated venue messages never crash it, and nothing bad is published`,
    property: () => fc.property(fc.array(input, { minLength: 1, maxLength: 40, size: 'max' }), (messages) => {
      const published: Tick[] = []
      const handler = new FeedHandler({ venue, url: 'ws://unused', instruments: DEFAULT_INSTRUMENTS, publisher: { publish: (_s, tick) => { published.push(tick) } }, republishMs: 0 })
      for (const text of messages) handler.handleMessage(text)
      published.forEach(checkTick)
      for (const reason of Object.keys(handler.stats.rejects)) if (!KNOWN_REASONS.has(reason)) throw new Error(`reject reason outside the catalogue: ${reason}`)
      if ((handler.stats.rejects.internal_error ?? 0) > 0) throw new Error('a parser threw (counted as internal_error): every input must get a reason')
      if (handler.stats.messages !== messages.length) throw new Error('a message went uncounted')
    })
  }
})
