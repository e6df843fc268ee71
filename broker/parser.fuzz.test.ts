/** The broker's fuzz properties, a few hundred runs each (long runs: npm run fuzz). */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { BROKER_FUZZ_PROPERTIES } from './fuzz-properties.ts'

describe('fuzzing the protocol parser and the broker core', () => {
  it.each(BROKER_FUZZ_PROPERTIES.map((p) => [p.name, p] as const))('%s', (_name, p) => {
    fc.assert(p.property(), { numRuns: 300 })
  })
})
