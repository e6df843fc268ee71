import { describe, expect, it } from 'vitest'
import { KeepAlive } from './keep-alive.ts'

describe('KeepAlive', () => {
  it('pings 2 s after CONNECT, then every interval, and calls a connection stale after too many unanswered', () => {
    const k = new KeepAlive()
    expect(k.due(1_000_000, 100, 2)).toBe('wait') // not connected yet
    k.start(0)
    expect(k.due(1999, 100, 2)).toBe('wait')
    expect(k.due(2000, 100, 2)).toBe('ping')
    k.answered(2030)
    expect(k.rttMs).toBe(30)
    expect(k.due(2099, 100, 2)).toBe('wait')
    expect(k.due(2100, 100, 2)).toBe('ping')
    expect(k.due(2200, 100, 2)).toBe('ping')
    expect(k.outstanding).toBe(2)
    expect(k.due(2300, 100, 2)).toBe('stale')
  })
})
