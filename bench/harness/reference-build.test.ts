/**
 * The gate's reference build, prepared for real (git archive, the broker bundled and started):
 * a kept extraction whose dependencies no longer resolve is made again, not reused broken.
 */
import { existsSync, rmSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { prepareReference, resolveCommit } from './reference-build.ts'

describe('prepareReference', () => {
  it('makes a kept extraction again when its node_modules link leads nowhere (the clone that made it was deleted)', () => {
    const first = prepareReference('HEAD', () => {})
    expect(first.commit).toBe(resolveCommit('HEAD'))
    const modules = path.join(first.root, 'node_modules')
    rmSync(modules, { recursive: true, force: true })
    symlinkSync(path.join(first.root, 'no-such-checkout', 'node_modules'), modules)
    expect(existsSync(modules)).toBe(false)
    const said: string[] = []
    const again = prepareReference('HEAD', (line) => { said.push(line) })
    expect(again.root).toBe(first.root)
    expect(existsSync(modules)).toBe(true)
    expect(said.join('\n')).toMatch(/extracting reference/)
  }, 120_000)
})
