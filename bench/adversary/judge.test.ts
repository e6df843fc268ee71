import { describe, expect, it } from 'vitest'
import { judgeFlood, type FloodMeasurement } from './judge.ts'

const MiB = 1024 * 1024
const calm: FloodMeasurement = {
  longestGapMs: 20,
  timerLateMaxMs: 3,
  rssStartBytes: 100 * MiB,
  rssPeakBytes: 110 * MiB,
  error: null
}

describe('the verdict on a flood', () => {
  it('passes a bystander that kept its ticks and a broker whose memory stayed flat', () => {
    expect(judgeFlood(calm)).toEqual({ verdict: 'PASS', reasons: [] })
  })

  it('fails a gap of 100 ms or more, memory grown past 64 MiB, or a closed bystander, naming each', () => {
    expect(judgeFlood({ ...calm, longestGapMs: 100 }).verdict).toBe('FAIL')
    expect(judgeFlood({ ...calm, rssPeakBytes: 165 * MiB })).toEqual({ verdict: 'FAIL', reasons: ['RSS grew 65 MiB (limit 64 MiB)'] })
    expect(judgeFlood({ ...calm, error: 'the connection was closed' }).reasons).toEqual(['the connection was closed'])
  })

  it('allows what the configuration keeps on top of the 64 MiB', () => {
    expect(judgeFlood({ ...calm, rssPeakBytes: 190 * MiB, heldBytes: 32 * MiB }).verdict).toBe('PASS')
    expect(judgeFlood({ ...calm, rssPeakBytes: 200 * MiB, heldBytes: 32 * MiB }).reasons).toEqual(['RSS grew 100 MiB (limit 96 MiB)'])
  })

  it('calls a long gap inconclusive when the bystander itself was held up, never a memory failure', () => {
    expect(judgeFlood({ ...calm, longestGapMs: 300, timerLateMaxMs: 250 }).verdict).toBe('inconclusive')
    expect(judgeFlood({ ...calm, longestGapMs: 300, timerLateMaxMs: 250, rssPeakBytes: 200 * MiB }).verdict).toBe('FAIL')
    expect(judgeFlood({ ...calm, longestGapMs: 300, timerLateMaxMs: 20 }).verdict).toBe('FAIL')
  })
})
