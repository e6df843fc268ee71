/**
 * ARCHITECTURE.md names every source file: a file added, moved or renamed without its row in
 * the tables fails here. A row names a file by its path within its folder's section (as
 * `client.ts` under "Broker (`broker/`)"), by a shorter path after a sibling in the same cell
 * (`venues/binance.ts`, `coinbase.ts`), by a folder (`test-support/`) or a glob (`workloads/*.json`).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.dirname(fileURLToPath(import.meta.url))
const FOLDERS = ['lib', 'broker', 'feeds', 'traders', 'dashboard', 'bench']

/** The backticked names in each folder's section, keyed by folder. */
function namesBySection (markdown: string): Map<string, string[]> {
  const sections = new Map<string, string[]>()
  let folder: string | null = null
  for (const line of markdown.split('\n')) {
    const heading = /^## .*\(`([a-z-]+)\/`\)/.exec(line)
    if (heading !== null) folder = heading[1] as string
    else if (line.startsWith('## ')) folder = null
    if (folder === null || !line.startsWith('|')) continue
    const names = [...(line.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string)
    sections.set(folder, [...(sections.get(folder) ?? []), ...names])
  }
  return sections
}

function named (file: string, names: readonly string[]): boolean {
  return names.some((name) => {
    if (name === file || name === path.basename(file)) return true
    if (name.endsWith('/')) return file.startsWith(name)
    if (name.includes('*')) return new RegExp(`^${name.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`).test(file)
    return false
  })
}

function sourceFiles (): string[] {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...FOLDERS], { cwd: ROOT, encoding: 'utf8' })
  return tracked.split('\n').filter((f) => /\.(ts|html|svg|json)$/.test(f) && !f.endsWith('.test.ts') && !f.startsWith('reports/'))
}

describe('ARCHITECTURE.md', () => {
  it('names every source file in its folder\'s table', () => {
    const sections = namesBySection(readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8'))
    const missing = sourceFiles().filter((file) => {
      const [folder, ...rest] = file.split('/')
      return !named(rest.join('/'), sections.get(folder as string) ?? [])
    })
    expect(missing, 'add these to ARCHITECTURE.md').toEqual([])
  })

  it('names no file that is not there', () => {
    const sections = namesBySection(readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8'))
    const files = sourceFiles()
    const stale = [...sections].flatMap(([folder, names]) => names
      .filter((name) => /\.(ts|html|svg)$/.test(name) && !name.includes('*'))
      .filter((name) => !files.some((f) => f.startsWith(`${folder}/`) && named(f.slice(folder.length + 1), [name])))
      .map((name) => `${folder}/: ${name}`))
    expect(stale, 'ARCHITECTURE.md names these, which do not exist').toEqual([])
  })

  it('catches a file it does not name', () => {
    const sections = namesBySection('## Broker (`broker/`)\n| `client.ts`, `wire.ts` | x |\n| `test-support/` | y |\n')
    const names = sections.get('broker') ?? []
    expect(named('client.ts', names)).toBe(true)
    expect(named('test-support/raw-client.ts', names)).toBe(true)
    expect(named('flow-control.ts', names)).toBe(false)
  })
})
