import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FlowControl } from './flow-control.ts'

const limits = { maxInFlightBytes: 256 * 1024, maxAckWaitMs: 100, highWaterBytes: 256 * 1024 }

describe('FlowControl', () => {
  it('conflates when the window is in flight, and releases once a PONG acknowledges it', () => {
    const flow = new FlowControl(limits)
    expect(flow.windowBytes).toBe(64 * 1024) // slow start
    expect(flow.wantsProbe(16 * 1024)).toBe(true) // a quarter of the window unacknowledged
    flow.pingSent(16 * 1024, 0)
    expect(flow.wantsProbe(32 * 1024)).toBe(false) // one PING out at a time
    expect(flow.mustConflate(64 * 1024, 0)).toBe('window')
    expect(flow.release(64 * 1024, 0, 10)).toBe('hold') // a PING is out: wait for it
    flow.acknowledged(64 * 1024, true, 10)
    expect(flow.inFlight(64 * 1024)).toBe(48 * 1024)
    // 16 KiB read in 10 ms while held back: the window shrinks to 25 ms of that, 40 KiB
    expect(flow.windowBytes).toBe(40 * 1024)
    expect(flow.release(64 * 1024, 0, 10)).toBe('probe') // 48 KiB still in flight: ask about it
    flow.pingSent(64 * 1024, 10)
    flow.acknowledged(64 * 1024, true, 20)
    expect(flow.inFlight(64 * 1024)).toBe(0)
    expect(flow.release(64 * 1024, 0, 20)).toBe('release')
  })

  it('asks with a PING when too much is in flight and none is out', () => {
    const flow = new FlowControl(limits)
    expect(flow.release(70 * 1024, 0, 0)).toBe('probe')
  })

  it('holds a reader whose PING is older than maxAckWaitMs, whatever its bytes', () => {
    const flow = new FlowControl(limits)
    flow.pingSent(100, 0)
    expect(flow.overdue(100)).toBe(false)
    expect(flow.overdue(101)).toBe(true)
    expect(flow.release(100, 0, 101)).toBe('hold')
  })

  it('conflates when the socket itself buffers past the high-water mark', () => {
    const flow = new FlowControl(limits)
    expect(flow.mustConflate(0, limits.highWaterBytes)).toBe('socket_buffer')
    expect(flow.mustConflate(0, limits.highWaterBytes - 1)).toBe(null)
    expect(flow.release(0, limits.highWaterBytes, 0)).toBe('hold')
  })

  it('adapts the window to a slow reader: about a quarter of maxAckWaitMs of its speed', () => {
    const flow = new FlowControl(limits)
    // 40 KiB acknowledged in 100 ms while held back: 410 B/ms, so 25 ms = about 10 KiB
    flow.pingSent(40 * 1024, 0)
    flow.acknowledged(40 * 1024, true, 100)
    expect(flow.windowBytes).toBe(Math.round(40 * 1024 / 100 * 25))
  })

  it('keeps the window between 8 KiB and maxInFlightBytes, whatever the reader does', () => {
    fc.assert(fc.property(fc.array(
      fc.record({
        bytes: fc.integer({ min: 1, max: 1 << 22 }),
        ms: fc.integer({ min: 0, max: 10_000 }),
        held: fc.boolean()
      }),
      { maxLength: 50 }
    ), (acks) => {
      const flow = new FlowControl(limits)
      let out = 0
      let now = 0
      for (const a of acks) {
        out += a.bytes
        now += a.ms
        flow.pingSent(out, now - a.ms)
        flow.acknowledged(out, a.held, now)
        expect(flow.windowBytes).toBeGreaterThanOrEqual(8 * 1024)
        expect(flow.windowBytes).toBeLessThanOrEqual(limits.maxInFlightBytes)
        expect(flow.inFlight(out)).toBe(0)
      }
    }))
  })
})
