/**
 * package.json's scripts start TypeScript as `node --import tsx <file>`, never through the tsx
 * command. The tsx command runs the file in a child and relays Ctrl-C to it; a child that has
 * not answered within 60 ms (its event loop busy, as the demo's can be on a loaded machine) it
 * kills with SIGKILL. `npm start` then died without its own shutdown (no "SIGINT: stopping" line,
 * its users file left in the temp folder), which the demo test caught once on Node 24 at
 * 79d6a93. Started with `--import`, the process gets Ctrl-C itself and handles it when it can.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.dirname(fileURLToPath(import.meta.url))
const SCRIPTS = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts

describe('package scripts', () => {
  it('start every TypeScript file with node --import tsx', () => {
    // A script that runs a .ts file (esbuild only reads one, to bundle it).
    const runs = Object.entries(SCRIPTS).filter(([, command]) => /\.ts\b/.test(command) && !command.startsWith('esbuild'))
    expect(runs.length).toBeGreaterThan(10)
    for (const [name, command] of runs) expect(`${name} => ${command}`).toMatch(/ => node --import tsx [\w/.-]+\.ts$/)
    expect(Object.values(SCRIPTS).filter((command) => /(^|&& )tsx /.test(command))).toEqual([])
  })

  it('so a process whose event loop is busy when Ctrl-C comes still runs its own SIGINT handler', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-sigint-'))
    try {
      const script = path.join(dir, 'busy.ts')
      writeFileSync(script, [
        "process.once('SIGINT', () => { process.stdout.write('handled\\n'); process.exit(0) })",
        'setInterval(() => { const t = Date.now(); while (Date.now() - t < 200) {} }, 0)',
        "process.stdout.write('ready\\n')"
      ].join('\n'))
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        // Ctrl-C to the whole group, as a terminal sends it, while the loop is busy.
        if (out === 'ready\n') setTimeout(() => process.kill(-(child.pid as number), 'SIGINT'), 300)
      })
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
      expect({ code, out }).toEqual({ code: 0, out: 'ready\nhandled\n' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
