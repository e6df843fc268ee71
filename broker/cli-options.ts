/**
 * Table-driven command-line options: one table gives the flag, its type, default and help,
 * and from it come parsing, validation with a message naming the flag, and `--help`. Used by
 * every tickfan command so they all behave alike.
 */
import { parseArgs } from 'node:util'

export type OptionSpec =
  | { type: 'integer', default: number, help: string, min?: number, max?: number }
  | { type: 'number', default: number, help: string, min?: number, max?: number }
  | { type: 'string', default: string, help: string, choices?: readonly string[] }
  | { type: 'list', default: readonly string[], help: string }
  /** `key=number,key=number`, each number > 0. */
  | { type: 'pairs', default: Readonly<Record<string, number>>, help: string }
  | { type: 'boolean', default: boolean, help: string }

export type OptionTable = Record<string, OptionSpec>

export type ParsedOptions<T extends OptionTable> = {
  [K in keyof T]: T[K] extends { type: 'integer' | 'number' } ? number
    : T[K] extends { type: 'list' } ? string[]
      : T[K] extends { type: 'pairs' } ? Record<string, number>
      : T[K] extends { type: 'boolean' } ? boolean
        : string
}

export class UsageError extends Error {
  override name = 'UsageError'
}

function kebab (key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

export function helpText<T extends OptionTable> (command: string, summary: string, table: T): string {
  const rows = Object.entries(table).map(([key, spec]) => {
    const flag = spec.type === 'boolean' ? `--${kebab(key)}` : `--${kebab(key)} <${spec.type === 'list' ? 'a,b,...' : spec.type === 'pairs' ? 'k=n,...' : spec.type}>`
    const def = spec.type === 'list' ? spec.default.join(',') : spec.type === 'pairs' ? Object.entries(spec.default).map(([k, n]) => `${k}=${n}`).join(',') : String(spec.default)
    const choices = spec.type === 'string' && spec.choices !== undefined ? ` (one of ${spec.choices.join(', ')})` : ''
    return { flag, text: `${spec.help}${choices} [default: ${def === '' ? 'none' : def}]` }
  })
  const width = Math.max(...rows.map((r) => r.flag.length), '--help'.length) + 2
  return [`Usage: ${command} [options]`, '', summary, '', 'Options:',
    ...rows.map((r) => `  ${r.flag.padEnd(width)}${r.text}`),
    `  ${'--help'.padEnd(width)}Show this help and exit`, ''].join('\n')
}

/** Parses argv against the table; throws UsageError naming the flag on any bad value. */
export function parseOptions<T extends OptionTable> (argv: readonly string[], table: T): ParsedOptions<T> & { help: boolean } {
  const config: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } }
  for (const [key, spec] of Object.entries(table)) {
    config[kebab(key)] = { type: spec.type === 'boolean' ? 'boolean' : 'string' }
    if (spec.type === 'boolean') config[`no-${kebab(key)}`] = { type: 'boolean' }
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''))
  }
  const out: Record<string, unknown> = { help: values.help === true }
  for (const [key, spec] of Object.entries(table)) {
    const flag = kebab(key)
    const raw = values[flag]
    if (spec.type === 'boolean') {
      out[key] = values[`no-${flag}`] === true ? false : raw === true ? true : spec.default
      continue
    }
    if (raw === undefined) {
      out[key] = spec.type === 'list' ? [...spec.default] : spec.type === 'pairs' ? { ...spec.default } : spec.default
      continue
    }
    const text = String(raw)
    switch (spec.type) {
      case 'integer':
      case 'number': {
        const n = Number(text)
        if (text.trim() === '' || !Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n))) {
          throw new UsageError(`--${flag} must be ${spec.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`)
        }
        if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${flag} must be at least ${spec.min}, got ${n}`)
        if (spec.max !== undefined && n > spec.max) throw new UsageError(`--${flag} must be at most ${spec.max}, got ${n}`)
        out[key] = n
        break
      }
      case 'string':
        if (spec.choices !== undefined && !spec.choices.includes(text)) {
          throw new UsageError(`--${flag} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(text)}`)
        }
        out[key] = text
        break
      case 'list':
        out[key] = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
        break
      case 'pairs':
        out[key] = parsePairs(flag, text)
        break
    }
  }
  return out as ParsedOptions<T> & { help: boolean }
}

function parsePairs (flag: string, text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=')
    const key = item.slice(0, eq).trim()
    const n = Number(item.slice(eq + 1))
    if (eq <= 0 || item.slice(eq + 1).trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new UsageError(`--${flag} takes name=number pairs with numbers > 0, got ${JSON.stringify(item)}`)
    }
    out[key] = n
  }
  return out
}

/**
 * Runs a command's main: prints usage errors plainly (exit 2) and anything else as a crash
 * (exit 1). A command started by another over IPC (npm start's children) stops itself with
 * SIGTERM's clean path when its parent goes away, so no process is ever left behind.
 */
export function runMain (main: () => Promise<void>): void {
  if (process.send !== undefined) process.once('disconnect', () => process.emit('SIGTERM'))
  main().catch((err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\nTry --help for the list of options.\n`)
      process.exit(2)
    }
    process.stderr.write(`fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(1)
  })
}
