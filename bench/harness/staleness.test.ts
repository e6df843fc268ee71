import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { newHistogram } from '../../lib/histogram.ts'
import { ReceiptLog } from './staleness.ts'

const MS = 1e6

describe('time-weighted staleness', () => {
  it('is uniform between 0 and the update interval for a subject updated every T with no delay', () => {
    const log = new ReceiptLog()
    for (let t = 0; t <= 1000 * MS; t += 10 * MS) log.add(0, t, t) // every 10 ms, received at once
    const h = newHistogram()
    log.recordStaleness(h, 0, 1000 * MS)
    expect(h.getValueAtPercentile(50) / 1000).toBeCloseTo(5, 0)
    expect(h.getValueAtPercentile(99) / 1000).toBeGreaterThan(9.5)
    expect(h.maxValue / 1000).toBeLessThanOrEqual(10.01)
    expect(h.totalCount / 1000).toBeCloseTo(1000, -1) // weights add up to the window, in us
  })

  it('sees a subscriber that blocks: the time it held old values counts', () => {
    // Fresh values every 1 ms, but the reader blocks 90 ms of every 100 ms and then reads the
    // newest: a timer on its thread would only ever see ages of about 1 ms.
    const log = new ReceiptLog()
    for (let cycle = 0; cycle < 10; cycle++) {
      const base = cycle * 100 * MS
      for (let k = 0; k < 10; k++) log.add(0, base + 90 * MS + k * MS, base + 90 * MS + k * MS)
    }
    const h = newHistogram()
    log.recordStaleness(h, 100 * MS, 1000 * MS)
    expect(h.getValueAtPercentile(50) / 1000).toBeGreaterThan(30)
    expect(h.getValueAtPercentile(99) / 1000).toBeGreaterThan(85)
  })

  it('weights add up to the window times the subjects held, whatever the receipts', () => {
    fc.assert(fc.property(fc.array(
      fc.record({ subject: fc.nat({ max: 3 }), gap: fc.integer({ min: 1, max: 50 }), delay: fc.nat({ max: 20 }) }),
      { minLength: 1, maxLength: 60 }
    ), (receipts) => {
      const log = new ReceiptLog()
      let t = 0
      const first = new Map<number, number>()
      for (const r of receipts) {
        t += r.gap * MS
        log.add(r.subject, t - r.delay * MS, t)
        if (!first.has(r.subject)) first.set(r.subject, t)
      }
      const end = t + 10 * MS
      const h = newHistogram()
      log.recordStaleness(h, 0, end)
      const expectedUs = [...first.values()].reduce((n, since) => n + (end - since) / 1000, 0)
      expect(Math.abs(h.totalCount - expectedUs)).toBeLessThanOrEqual(16 * receipts.length)
    }))
  })

  it('counts receipts within a window', () => {
    const log = new ReceiptLog()
    for (let i = 0; i < 5000; i++) log.add(0, i, i)
    expect(log.countWithin(1000, 2000)).toBe(1000)
  })
})
