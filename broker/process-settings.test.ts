import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ALLOCATOR_ENV, NODE_FLAGS, withNodeFlags } from './process-settings.ts'

describe('the broker process settings', () => {
  it('are what `npm run broker` sets, so the command and the code agree', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
    const settings = Object.entries(ALLOCATOR_ENV).map(([k, v]) => `${k}=${v}`)
    expect(pkg.scripts.broker).toBe(`${settings.join(' ')} node ${NODE_FLAGS.join(' ')} dist/broker.mjs`)
  })

  it('give forked workers the node flags their primary lacks, once', () => {
    expect(withNodeFlags(['--import', 'tsx'])).toEqual([...NODE_FLAGS, '--import', 'tsx'])
    expect(withNodeFlags([...NODE_FLAGS, '--import', 'tsx'])).toEqual([...NODE_FLAGS, '--import', 'tsx'])
  })
})
