import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { conflatedCount } from './conflated-count.ts'

describe('conflatedCount', () => {
  it('reads what the broker writes, and nothing else', () => {
    expect(conflatedCount(undefined)).toBe(0)
    expect(conflatedCount('')).toBe(0)
    expect(conflatedCount('0')).toBe(0)
    expect(conflatedCount('17')).toBe(17)
    for (const forged of ['abc', '-5', '1e308', '3.5', ' 4', '4 ', 'Infinity', '0x10', '9'.repeat(16)]) {
      expect(conflatedCount(forged)).toBeNull()
    }
  })

  it('gives a finite whole number or null for any text, so a total stays a number', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      const n = conflatedCount(s)
      expect(n === null || (Number.isSafeInteger(n) && n >= 0)).toBe(true)
    }))
    fc.assert(fc.property(fc.nat(), (n) => { expect(conflatedCount(String(n))).toBe(n) }))
  })
})
