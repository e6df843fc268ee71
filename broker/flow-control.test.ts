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
    expect(flow.wantsProbe(31 * 1024)).toBe(false) // less than a quarter past the PING out
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

  it('pipelines probes: one per quarter of the window past the last, at most four out', () => {
    const flow = new FlowControl(limits)
    const quarter = 16 * 1024 // of the 64 KiB a connection starts with
    for (let i = 1; i <= 4; i++) {
      expect(flow.wantsProbe(i * quarter)).toBe(true)
      flow.pingSent(i * quarter, i)
      expect(flow.wantsProbe(i * quarter + quarter - 1)).toBe(false)
    }
    expect(flow.wantsProbe(10 * quarter)).toBe(false) // four out: wait for a PONG
    // Each PONG acknowledges up to its own PING, not the whole stream.
    flow.acknowledged(4 * quarter, false, 5)
    expect(flow.inFlight(4 * quarter)).toBe(3 * quarter)
    const next = 4 * quarter + flow.windowBytes / 4 // three out now, the last at 4 quarters
    expect(flow.wantsProbe(next - 1)).toBe(false)
    expect(flow.wantsProbe(next)).toBe(true)
  })

  it('measures a fast reader by what it acknowledged between PONGs, not per PING round trip', () => {
    // The broker writes 64 KiB a turn, a PING after each 16 KiB, turns 10 ms apart, and reads
    // the PONGs of one turn's PINGs in the next: the reader keeps up with 6,554 B/ms. Per round
    // trip, each PONG would say 16 KiB in 10 ms, a quarter of that.
    const flow = new FlowControl(limits)
    const quarter = 16 * 1024
    let written = 0
    for (let turn = 0; turn < 12; turn++) {
      const t = turn * 10
      for (let k = 0; k < 4 && turn > 0; k++) flow.acknowledged(written, true, t) // last turn's PONGs
      for (let k = 0; k < 4; k++) flow.pingSent(written += quarter, t)
    }
    // The first sample began at a PING's sending (a quarter in 10 ms); the average forgets it.
    const expected = 4 * quarter / 10 * 25
    expect(Math.abs(flow.windowBytes - expected) / expected).toBeLessThan(0.01)
  })

  it('measures a reader that answers several PINGs in one write at its own speed', () => {
    // A slow reader at about 1,000 B/ms works through 32 KiB reads and answers their two PINGs
    // together: PONGs two at a time, 33 ms apart. One PONG to the next, the second of each pair
    // would say 16 KiB in no time.
    const flow = new FlowControl(limits)
    const quarter = 16 * 1024
    for (let i = 1; i <= 4; i++) flow.pingSent(i * quarter, i - 1)
    flow.acknowledged(4 * quarter, true, 33)
    flow.acknowledged(4 * quarter, true, 33)
    flow.acknowledged(4 * quarter, true, 66)
    flow.acknowledged(4 * quarter, true, 66)
    // The first sample: 16 KiB since its PING went out at 0; the second: 32 KiB in 33 ms.
    expect(flow.windowBytes).toBe(Math.round((quarter / 33 + 2 * quarter / 33) / 2 * 25))
  })

  it('adapts the window to a slow reader: about a quarter of maxAckWaitMs of its speed', () => {
    const flow = new FlowControl(limits)
    // 40 KiB acknowledged in 100 ms while held back: 410 B/ms, so 25 ms = about 10 KiB
    flow.pingSent(40 * 1024, 0)
    flow.acknowledged(40 * 1024, true, 100)
    expect(flow.windowBytes).toBe(Math.round(40 * 1024 / 100 * 25))
    // Its next PONG, 40 KiB later and 100 ms after the previous (its PING went out before that
    // one came back): the same speed, the same window.
    flow.pingSent(80 * 1024, 90)
    flow.acknowledged(80 * 1024, true, 200)
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
