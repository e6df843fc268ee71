import { describe, expect, it } from 'vitest'
import { runValidity, type RunHealth } from './run-validity.ts'

const healthy: RunHealth = {
  measuredSeconds: 4,
  publisher: { published: 1000, expected: 1000, ownPublishDelayP99Us: 2000, cpuSeconds: 1, waitedForBrokerSeconds: 0 },
  subscriberBusyShares: [0.3],
  loadCores: 1,
  otherCores: 0
}
const late = { ...healthy.publisher, ownPublishDelayP99Us: 400_000 }

describe('runValidity', () => {
  it('accepts a run whose generators kept their schedule with room to spare', () => {
    expect(runValidity(healthy)).toMatchObject({
      valid: true, invalidReason: null, heldBack: false, generatorBusy: 0.55, busiestGenerator: 0.3
    })
  })

  it('blames the generator for a publisher late on its own, whether or not the broker also held it up', () => {
    const v = runValidity({ ...healthy, publisher: late })
    expect(v.valid).toBe(false)
    expect(v.invalidReason).toMatch(/publisher fell behind on its own \(p99 publish delay 400.0 ms where the broker did not hold it up\)/)
    expect(runValidity({ ...healthy, publisher: { ...late, waitedForBrokerSeconds: 1.5 } }).valid).toBe(false)
  })

  it('blames the broker for lateness in the backlog of a wait for the drain: the run stays valid', () => {
    // The publisher measures the two apart: here only the backlog was late (its own p99 is small).
    const v = runValidity({ ...healthy, publisher: { ...healthy.publisher, waitedForBrokerSeconds: 1.5 } })
    expect(v).toMatchObject({ valid: true, heldBack: true })
  })

  it('blames the broker for a short count when it held the publisher back, and the publisher otherwise', () => {
    const short = { ...healthy.publisher, published: 900 }
    expect(runValidity({ ...healthy, publisher: short }).valid).toBe(false)
    expect(runValidity({ ...healthy, publisher: { ...short, waitedForBrokerSeconds: 0.5 } }).valid).toBe(true)
  })

  it('still leaves out a held-back run whose generators were saturated', () => {
    const publisher = { ...healthy.publisher, waitedForBrokerSeconds: 1, cpuSeconds: 3 }
    const v = runValidity({ ...healthy, publisher, subscriberBusyShares: [0.5] })
    expect(v.invalidReason).toMatch(/load generators were 125% busy on their 1 core/)
  })

  it('sees one saturated process among many cores, which the mean over them hides', () => {
    const publisher = { ...healthy.publisher, cpuSeconds: 3.8 }
    const v = runValidity({ ...healthy, publisher, subscriberBusyShares: [0.2, 0.2], loadCores: 8 })
    expect(v.generatorBusy).toBeLessThan(0.2)
    expect(v.invalidReason).toBe('one load generator process was 95% busy on its core')
  })

  it('leaves out a run with a sent count short of the schedule, and one on a busy machine', () => {
    const short = runValidity({ ...healthy, publisher: { ...healthy.publisher, published: 900 } })
    expect(short.invalidReason).toBe('the publisher sent 900 of 1000 scheduled messages')
    expect(runValidity({ ...healthy, otherCores: 0.5 }).invalidReason).toBe('the machine was not quiet: other processes used 0.50 cores')
  })
})
