import { describe, expect, it } from 'vitest'
import { CONNZ_MAX_LIMIT, connzPage, LVC_DEFAULT_LIMIT, LVC_MAX_LIMIT, LVC_PAGE_BYTES, lvcPage, pageOfValues } from './monitor.ts'

describe('/connz pages', () => {
  it('cuts limit to CONNZ_MAX_LIMIT, unless the primary asks a worker, and says what is wrong', () => {
    expect(connzPage(undefined, undefined)).toEqual({ limit: CONNZ_MAX_LIMIT, offset: 0 })
    expect(connzPage('10', '3')).toEqual({ limit: 10, offset: 3 })
    expect(connzPage('0', undefined)).toEqual({ limit: 0, offset: 0 })
    expect(connzPage('100000', '5')).toEqual({ limit: CONNZ_MAX_LIMIT, offset: 5 })
    expect(connzPage('100000', '5', true)).toEqual({ limit: 100000, offset: 5 })
    for (const [limit, offset] of [['-1', undefined], ['x', undefined], [undefined, '1.5']]) {
      expect(connzPage(limit, offset)).toBe('limit and offset must be non-negative integers')
    }
  })
})

describe('/lvc pages', () => {
  it('reads limit and offset, with defaults, and says what is wrong with them', () => {
    expect(lvcPage(undefined, undefined)).toEqual({ limit: LVC_DEFAULT_LIMIT, offset: 0 })
    expect(lvcPage('5', '20')).toEqual({ limit: 5, offset: 20 })
    expect(lvcPage(String(LVC_MAX_LIMIT), '0')).toEqual({ limit: LVC_MAX_LIMIT, offset: 0 })
    expect(lvcPage('0', undefined)).toMatch(/^limit must be an integer from 1 to/)
    expect(lvcPage(String(LVC_MAX_LIMIT + 1), undefined)).toMatch(/^limit must be/)
    expect(lvcPage('1.5', undefined)).toMatch(/^limit must be/)
    expect(lvcPage(undefined, '-1')).toMatch(/^offset must be a non-negative integer/)
  })

  it('takes at most limit subjects from offset, and stops before LVC_PAGE_BYTES unless the page is empty', () => {
    const subjects = ['a', 'b', 'c', 'd', 'e']
    expect(pageOfValues(subjects, { limit: 2, offset: 1 }, () => 10)).toEqual(['b', 'c'])
    expect(pageOfValues(subjects, { limit: 10, offset: 4 }, () => 10)).toEqual(['e'])
    expect(pageOfValues(subjects, { limit: 10, offset: 9 }, () => 10)).toEqual([])
    const half = LVC_PAGE_BYTES / 2
    expect(pageOfValues(subjects, { limit: 10, offset: 0 }, () => half)).toEqual(['a', 'b'])
    expect(pageOfValues(subjects, { limit: 10, offset: 0 }, () => half + 1)).toEqual(['a'])
    expect(pageOfValues(subjects, { limit: 10, offset: 0 }, () => 3 * LVC_PAGE_BYTES)).toEqual(['a']) // one, however big
  })
})
