import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { BUNDLE_FLAGS, bundleBroker, bundlePath, loaderFlags } from './bundle.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

describe('the broker\'s bundle', () => {
  let dir: string | null = null
  afterEach(() => { if (dir !== null) rmSync(dir, { recursive: true, force: true }); dir = null })

  it('is built with the options `npm run build` passes, so the benchmarks run what ships', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.build).toBe(`esbuild broker/main.ts ${BUNDLE_FLAGS.join(' ')} --outfile=dist/broker.mjs --log-level=warning`)
    expect(bundlePath(ROOT)).toBe(path.join(ROOT, 'dist/broker.mjs'))
  })

  it('starts: the bundled broker answers --help, and only its source map is left beside it', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-bundle-'))
    const out = bundleBroker(path.join(ROOT, 'broker/main.ts'), path.join(dir, 'dist/broker.mjs'))
    // Run from the checkout, where its packages are (the bundle leaves them external).
    const inRoot = path.join(ROOT, 'dist', `bundle-test-${process.pid}.mjs`)
    mkdirSync(path.dirname(inRoot), { recursive: true }) // a fresh checkout has no dist/ until something builds
    writeFileSync(inRoot, readFileSync(out))
    try {
      const help = spawnSync(process.execPath, [inRoot, '--help'], { encoding: 'utf8', timeout: 30_000 })
      expect(help.status).toBe(0)
      expect(help.stdout).toContain('--workers')
    } finally {
      rmSync(inRoot, { force: true })
    }
    expect(readdirSync(path.join(dir, 'dist')).sort()).toEqual(['broker.mjs', 'broker.mjs.map'])
  })

  it('says why when the sources do not build, and writes nothing', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-bundle-'))
    const entry = path.join(dir, 'main.ts')
    writeFileSync(entry, 'import { nothing } from \'./missing.ts\'\nconsole.log(nothing)\n')
    expect(() => bundleBroker(entry, path.join(dir as string, 'dist/broker.mjs'))).toThrow(/Could not resolve "\.\/missing\.ts"/)
    expect(readdirSync(dir)).toEqual(['main.ts'])
  })

  it('is started as it is, where the sources are started through tsx', () => {
    expect(loaderFlags('dist/broker.mjs')).toEqual([])
    expect(loaderFlags('/tmp/x/dist/broker.mjs')).toEqual([])
    expect(loaderFlags('feeds/main.ts')).toEqual(['--import', 'tsx'])
  })
})
