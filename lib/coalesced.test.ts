import { describe, expect, it } from 'vitest'
import { coalesced } from './coalesced.ts'

describe('coalesced', () => {
  it('serves every caller during a load, and for maxAgeMs after it, from that one load', async () => {
    let clock = 0
    let release: (v: number) => void = () => {}
    let value = 0
    const load = async (): Promise<number> => await new Promise<number>((resolve) => { release = resolve; value++ })
    const get = coalesced(load, 250, () => clock)
    const during = Array.from({ length: 100 }, () => get())
    release(1)
    expect(await Promise.all(during)).toEqual(Array(100).fill(1))
    clock = 250
    expect(await get()).toBe(1)
    expect(get.loads).toBe(1)
    clock = 251
    const next = get()
    release(2)
    expect(await next).toBe(2)
    expect(get.loads).toBe(2)
    expect(value).toBe(2)
  })

  it('keeps no failure: the next caller loads again', async () => {
    let fail = true
    const get = coalesced(async () => { if (fail) throw new Error('down'); return 'up' }, 1000, () => 0)
    await expect(get()).rejects.toThrow('down')
    fail = false
    expect(await get()).toBe('up')
    expect(get.loads).toBe(2)
  })
})
