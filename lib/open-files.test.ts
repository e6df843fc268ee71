import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { connectionsWithinFileLimit, FILES_KEPT_FREE, parseOpenFileLimit, readOpenFiles } from './open-files.ts'

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`

describe('parseOpenFileLimit', () => {
  it('reads the soft limit of "Max open files"', () => {
    expect(parseOpenFileLimit(LIMITS)).toBe(1024)
  })

  it('says null when there is no limit or no such line', () => {
    expect(parseOpenFileLimit(LIMITS.replace('1024  ', 'unlimited'))).toBeNull()
    expect(parseOpenFileLimit('Max cpu time unlimited unlimited seconds\n')).toBeNull()
    expect(parseOpenFileLimit('Max open files            lots   lots  files\n')).toBeNull()
  })
})

describe('connectionsWithinFileLimit', () => {
  it('keeps the requested limit where the files allow it, and lowers it where they do not', () => {
    expect(connectionsWithinFileLimit(65_536, 1_048_576, 30)).toBe(65_536)
    expect(connectionsWithinFileLimit(65_536, 20_000, 30)).toBe(20_000 - 30 - FILES_KEPT_FREE)
    expect(connectionsWithinFileLimit(100, null, 30)).toBe(100)
    expect(connectionsWithinFileLimit(100, 50, 30)).toBe(1)
  })

  it('never exceeds what was asked nor the room the files leave, and is at least 1', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e7 }), fc.integer({ min: 0, max: 1e5 }),
      (requested, limit, open) => {
        const fits = connectionsWithinFileLimit(requested, limit, open)
        expect(fits).toBeGreaterThanOrEqual(1)
        expect(fits).toBeLessThanOrEqual(requested)
        if (fits > 1) expect(fits + open + FILES_KEPT_FREE).toBeLessThanOrEqual(limit)
        if (fits < requested) expect(fits === 1 || fits + open + FILES_KEPT_FREE === limit).toBe(true)
      }
    ))
  })
})

describe('readOpenFiles', () => {
  it('reads this process\'s limit and open files from /proc', () => {
    const files = readOpenFiles()
    expect(files).not.toBeNull()
    // stdin, stdout, stderr at least; and no more than the limit allows.
    expect(files?.open).toBeGreaterThanOrEqual(3)
    if (files?.limit != null) expect(files.open).toBeLessThanOrEqual(files.limit)
  })
})
