import { readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { capped, loadWorkload, quick, repetitionsOf, targetsOfRepetition, validateWorkload, warmedAgain } from './workload.ts'

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workloads')

describe('workload files', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.json')))('%s is valid', (file) => {
    const w = loadWorkload(path.join(DIR, file))
    expect(w.name).toBe(file.replace(/\.json$/, ''))
  })

  it('ships the workloads the suite promises, with a wide fan-out of at least 1000 connections', () => {
    const names = readdirSync(DIR).map((f) => f.replace(/\.json$/, ''))
    for (const n of ['steady', 'burst', 'slow-consumers', 'wide-fanout', 'max-throughput', 'scaling']) expect(names).toContain(n)
    expect(loadWorkload(path.join(DIR, 'wide-fanout.json')).subscribers).toBeGreaterThanOrEqual(1000)
  })

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown key', { name: 'x', description: 'd', subscriber: 3 }, /unknown key "subscriber"/],
    ['a wrong type', { name: 'x', description: 'd', subscribers: 'many' }, /subscribers must be an integer, got "many"/],
    ['an impossible value', { name: 'x', description: 'd', tradeRatio: 1.5 }, /tradeRatio must be between 0 and 1, got 1.5/],
    ['a bad rate', { name: 'x', description: 'd', rate: 'fast' }, /rate must be an integer/],
    ['an unknown key inside slow', { name: 'x', description: 'd', slow: { costMs: 1 } }, /slow.costMs is not a known key/],
    ['more processes than subscribers', { name: 'x', description: 'd', subscribers: 2, subscriberProcesses: 3 }, /subscriberProcesses \(3\) cannot exceed subscribers \(2\)/],
    ['no fast subscriber left', { name: 'x', description: 'd', subscribers: 2, slowFraction: 1 }, /leaves no fast subscriber/],
    ['a negative comparisonRepetitions', { name: 'x', description: 'd', comparisonRepetitions: -1 }, /comparisonRepetitions must be between 0 and 100, got -1/],
    ['a missing name', { description: 'd' }, /name is required/]
  ])('rejects %s, naming the key', (_case, raw, message) => {
    expect(() => validateWorkload(raw, 'w.json')).toThrow(message)
  })

  it('fills defaults and shortens for quick runs', () => {
    const w = validateWorkload({ name: 'x', description: 'd' })
    expect(w).toMatchObject({ subjects: 100, payloadBytes: 128, repetitions: 1 })
    const q = quick({ ...w, durationSeconds: 10, repetitions: 3, rateSteps: [1, 2, 3, 4] }, 0.3)
    expect(q).toMatchObject({ durationSeconds: 3, repetitions: 1, rateSteps: [1, 2] })
  })

  it('stretches the warm-up of a capped broker to the CPU time a whole core would give it, and nothing else', () => {
    const w = validateWorkload({ name: 'x', description: 'd', warmupSeconds: 1, durationSeconds: 3 })
    expect(capped(w, 0.25)).toEqual({ ...w, warmupSeconds: 4 })
    expect(capped(w, 0.3).warmupSeconds).toBe(3.3)
    expect(capped(w, 1)).toEqual(w)
    expect(capped(w, 2)).toEqual(w)
    const ramped = validateWorkload({ name: 'x', description: 'd', warmupSeconds: 2, warmupRampSeconds: 1 })
    expect(capped(ramped, 0.25)).toMatchObject({ warmupSeconds: 8, warmupRampSeconds: 4 })
  })

  it('warms a step again with twice the warm-up, the rate ramped over the first half; a ramp must fit the warm-up', () => {
    const w = validateWorkload({ name: 'x', description: 'd', warmupSeconds: 4, durationSeconds: 3 })
    expect(w.warmupRampSeconds).toBe(0)
    expect(warmedAgain(w)).toEqual({ ...w, warmupSeconds: 8, warmupRampSeconds: 4 })
    expect(() => validateWorkload({ name: 'x', description: 'd', warmupSeconds: 1, warmupRampSeconds: 2 }, 'x.json'))
      .toThrow('x.json: warmupRampSeconds (2) must be within warmupSeconds (1)')
  })

  it('interleaves the targets, and runs the comparison only in its first repetitions when told', () => {
    const targets = ['tickfan', 'nats-server'] as const
    const every = validateWorkload({ name: 'x', description: 'd', repetitions: 4 })
    expect([0, 1, 2, 3].map((rep) => targetsOfRepetition(every, rep, targets))).toEqual([
      ['tickfan', 'nats-server'], ['nats-server', 'tickfan'], ['tickfan', 'nats-server'], ['nats-server', 'tickfan']
    ])
    const first2 = validateWorkload({ name: 'x', description: 'd', repetitions: 4, comparisonRepetitions: 2 })
    expect([0, 1, 2, 3].map((rep) => targetsOfRepetition(first2, rep, targets))).toEqual([
      ['tickfan', 'nats-server'], ['nats-server', 'tickfan'], ['tickfan'], ['tickfan']
    ])
    expect(targetsOfRepetition(first2, 3, ['nats-server'])).toEqual([])
  })

  it('repeats a judged workload at least --repeat times, and nothing else', () => {
    const judged = validateWorkload({ name: 'fairness', description: 'd', repetitions: 5 })
    expect(repetitionsOf(judged, 3)).toBe(5)
    expect(repetitionsOf(judged, 9)).toBe(9)
    expect(repetitionsOf(judged, 9, true)).toBe(5) // a quick run
    expect(repetitionsOf(validateWorkload({ name: 'steady', description: 'd' }), 9)).toBe(1)
  })
})
