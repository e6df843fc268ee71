import { describe, expect, it } from 'vitest'
import { LastValueCache } from '../../broker/last-value.ts'
import { RoutedMessage } from '../../broker/wire.ts'
import { measureEvictions } from './last-value-eviction.ts'

describe('last-value-eviction micro benchmark', () => {
  it('evicts one subject per new one offered to a full cache, and times it', () => {
    // Its own check throws unless the cache stayed at its size with one eviction per offer.
    const checkout = { label: 'this checkout', Cache: LastValueCache, Message: RoutedMessage }
    expect(measureEvictions(checkout, 100, 2000)).toBeGreaterThan(0)
    expect(measureEvictions(checkout, 5, 100)).toBeGreaterThan(0) // a cache smaller than a sample
  })
})
