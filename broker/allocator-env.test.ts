import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ALLOCATOR_ENV } from './allocator-env.ts'

describe('the allocator environment', () => {
  it('is what `npm run broker` sets, so the command and the code agree', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
    const settings = Object.entries(ALLOCATOR_ENV).map(([k, v]) => `${k}=${v}`)
    expect(pkg.scripts.broker).toBe(`${settings.join(' ')} node dist/broker.mjs`)
  })
})
