/** The feed handlers' fuzz properties, a few hundred runs each (long runs: npm run fuzz). */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { VENUE_FUZZ_PROPERTIES } from './fuzz-properties.ts'

describe('fuzzing the venue parsers', () => {
  it.each(VENUE_FUZZ_PROPERTIES.map((p) => [p.name, p] as const))('%s', (_name, p) => {
    fc.assert(p.property(), { numRuns: 300 })
  })
})
