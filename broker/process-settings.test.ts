import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ALLOCATOR_ENV, NODE_FLAGS, quotaFlags, SINGLE_THREADED_GC_FLAG, withNodeFlags } from './process-settings.ts'

describe('the broker process settings', () => {
  it('are what `npm run broker` sets, so the command and the code agree', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
    const settings = Object.entries(ALLOCATOR_ENV).map(([k, v]) => `${k}=${v}`)
    expect(pkg.scripts.broker).toBe(`${settings.join(' ')} node ${NODE_FLAGS.join(' ')} dist/broker.mjs`)
  })

  it('give forked workers the node flags their primary lacks, once', () => {
    expect(withNodeFlags(['--import', 'tsx'])).toEqual([...NODE_FLAGS, '--import', 'tsx'])
    expect(withNodeFlags([...NODE_FLAGS, '--import', 'tsx'])).toEqual([...NODE_FLAGS, '--import', 'tsx'])
    expect(withNodeFlags(['--import', 'tsx'], ['--x'])).toEqual([...NODE_FLAGS, '--x', '--import', 'tsx'])
    expect(withNodeFlags(['--x', '--import', 'tsx'], ['--x'])).toEqual([...NODE_FLAGS, '--x', '--import', 'tsx'])
  })

  it('run V8\'s collector on one thread only where a process has less than a core of a CPU quota', () => {
    expect(quotaFlags(null, 1)).toEqual([])
    expect(quotaFlags(0.25, 1)).toEqual([SINGLE_THREADED_GC_FLAG])
    expect(quotaFlags(1, 1)).toEqual([])
    expect(quotaFlags(1.5, 2)).toEqual([SINGLE_THREADED_GC_FLAG])
    expect(quotaFlags(8, 4)).toEqual([])
  })
})
