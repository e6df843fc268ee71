import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { bundleBroker } from '../../broker/bundle.ts'
import { readCpuProfile } from './profile-file.ts'
import { summarizeProfile } from './profile.ts'

describe('a CPU profile of a bundled program, read from disk', () => {
  let dir: string | null = null
  afterEach(() => { if (dir !== null) rmSync(dir, { recursive: true, force: true }); dir = null })

  it('names the source file and line of each function, through the bundle\'s source map', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-profile-file-'))
    mkdirSync(path.join(dir, 'broker'))
    // A busy function in a module of its own, bundled as the broker is, then profiled as it runs.
    writeFileSync(path.join(dir, 'broker/spin.ts'), [
      'export function spinForProfile (ms: number): number {',
      '  const end = Date.now() + ms',
      '  let x = 0',
      '  while (Date.now() < end) x = (x * 31 + 7) % 1000003',
      '  return x',
      '}',
      ''
    ].join('\n'))
    writeFileSync(path.join(dir, 'broker/main.ts'), 'import { spinForProfile } from \'./spin.ts\'\nconsole.log(spinForProfile(300))\n')
    const bundle = bundleBroker(path.join(dir, 'broker/main.ts'), path.join(dir, 'dist/broker.mjs'))
    const run = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'prof')}`, bundle], { encoding: 'utf8', timeout: 30_000 })
    expect(run.status).toBe(0)
    const [file] = readdirSync(path.join(dir, 'prof'))
    const profile = readCpuProfile(path.join(dir, 'prof', file as string))
    const spin = profile.nodes.find((n) => n.callFrame.functionName === 'spinForProfile')
    expect(spin?.callFrame.url).toBe(`file://${path.join(dir, 'broker/spin.ts')}`)
    expect(spin?.callFrame.lineNumber).toBe(0)
    expect(summarizeProfile(profile).byModule.map((m) => m.name)).toContain('broker/spin.ts')
  })
})
