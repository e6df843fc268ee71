import { describe, expect, it } from 'vitest'
import { ThrottledLog } from './throttled-log.ts'

describe('throttled log', () => {
  it('writes once per key per interval and reports what it suppressed', () => {
    let now = 0
    const lines: string[] = []
    const log = new ThrottledLog((key, detail, suppressed) => lines.push(`${key}:${detail}:${suppressed}`), 1000, () => now)
    expect(log.note('bad_number', 'a')).toBe(true)
    expect(log.note('bad_number', 'b')).toBe(false)
    expect(log.note('not_json', 'c')).toBe(true)
    now = 1500
    log.note('bad_number', 'd')
    expect(lines).toEqual(['bad_number:a:0', 'not_json:c:0', 'bad_number:d:1'])
  })
})
