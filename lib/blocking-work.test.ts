import { describe, expect, it } from 'vitest'
import { spendBlocked, WORK_SLICE_US } from './blocking-work.ts'

describe('spendBlocked', () => {
  it('spends all the work asked for, in slices and the rest after the current messages', async () => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < 12; i++) spendBlocked(1000) // 12 ms of work: two slices of 5 ms, 2 ms owed
    const afterMessages = Number(process.hrtime.bigint() - start) / 1e6
    expect(afterMessages).toBeGreaterThanOrEqual(2 * WORK_SLICE_US / 1000)
    await Promise.resolve() // the owed rest is paid once the current messages are handled
    const afterAll = Number(process.hrtime.bigint() - start) / 1e6
    expect(afterAll).toBeGreaterThanOrEqual(12)
  })
})
