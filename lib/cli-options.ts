/**
 * Table-driven command-line options: one table gives the flag, its type, default and help,
 * and from it come parsing, validation with a message naming the flag, and `--help`. Used by
 * every tickfan command so they all behave alike.
 */
import { parseArgs } from 'node:util'

/** What every option has besides its type: its help, and old flag names that still work. */
interface OptionCommon {
  help: string
  /** Earlier flag names (kebab-case, without --), accepted as the option itself. */
  aliases?: readonly string[]
}

export type OptionSpec = OptionCommon & (
  | { type: 'integer', default: number, min?: number, max?: number, unit?: NumberUnit }
  | { type: 'number', default: number, min?: number, max?: number, unit?: NumberUnit }
  | { type: 'string', default: string, choices?: readonly string[] }
  | { type: 'list', default: readonly string[] }
  /** `key=number,key=number`, each number > 0. */
  | { type: 'pairs', default: Readonly<Record<string, number>> }
  | { type: 'boolean', default: boolean }
)

/** The unit of a number option, which its flag name also ends with. */
export type NumberUnit = 'bytes' | 'ms'

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

export function kebab (key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

export function helpText<T extends OptionTable> (command: string, summary: string, table: T): string {
  const rows = Object.entries(table).map(([key, spec]) => {
    const flag = spec.type === 'boolean' ? `--${kebab(key)}` : `--${kebab(key)} <${spec.type === 'list' ? 'a,b,...' : spec.type === 'pairs' ? 'k=n,...' : spec.type}>`
    const choices = spec.type === 'string' && spec.choices !== undefined ? ` (one of ${spec.choices.join(', ')})` : ''
    const aliases = spec.aliases === undefined ? '' : ` (also ${spec.aliases.map((a) => `--${a}`).join(', ')})`
    // A help text that says its own default (one computed at run time) keeps it.
    const def = spec.help.includes('[default:') ? '' : ` [default: ${formatDefault(spec)}]`
    return { flag, text: `${spec.help}${choices}${def}${aliases}` }
  })
  const width = Math.max(...rows.map((r) => r.flag.length), '--help'.length) + 2
  return [`Usage: ${command} [options]`, '', summary, '', 'Options:',
    ...rows.map((r) => `  ${r.flag.padEnd(width)}${r.text}`),
    `  ${'--help'.padEnd(width)}Show this help and exit`, ''].join('\n')
}

/** An option's default as a person reads it: `1048576 (1 MiB)`, `a,b`, `none`. */
export function formatDefault (spec: OptionSpec): string {
  switch (spec.type) {
    case 'list': return spec.default.length === 0 ? 'none' : spec.default.join(',')
    case 'pairs': return Object.entries(spec.default).map(([k, n]) => `${k}=${n}`).join(',')
    case 'integer':
    case 'number': return spec.unit === 'bytes' && spec.default >= 1024 ? `${spec.default} (${formatBytes(spec.default)})` : String(spec.default)
    default: return spec.default === '' ? 'none' : String(spec.default)
  }
}

/** 1048576 -> `1 MiB`, 4096 -> `4 KiB`, 1000 -> `1000 B`. */
export function formatBytes (n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`
  }
  return `${n} B`
}

/** Why a number is not a valid value of the option, or null when it is. */
export function numberProblem (spec: OptionSpec & { type: 'integer' | 'number' }, n: number): string | null {
  if (!Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n))) return `must be ${spec.type === 'integer' ? 'an integer' : 'a number'}`
  if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}`
  if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}`
  return null
}

/** Parses argv against the table; throws UsageError naming the flag on any bad value. */
export function parseOptions<T extends OptionTable> (
  argv: readonly string[],
  table: T
): ParsedOptions<T> & { help: boolean } {
  const config: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } }
  for (const [key, spec] of Object.entries(table)) {
    for (const name of [kebab(key), ...(spec.aliases ?? [])]) {
      config[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' }
      if (spec.type === 'boolean') config[`no-${name}`] = { type: 'boolean' }
    }
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: config,
      strict: true,
      allowPositionals: false
    }).values as Record<string, string | boolean | undefined>
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''))
  }
  const out: Record<string, unknown> = { help: values.help === true }
  for (const [key, spec] of Object.entries(table)) {
    const flag = kebab(key)
    // The flag or one of its old names: whichever was given (naming both is an error).
    const given = [flag, ...(spec.aliases ?? [])].filter((name) => values[name] !== undefined || values[`no-${name}`] !== undefined)
    if (given.length > 1) throw new UsageError(`--${given[1]} is another name for --${flag}: give one of them`)
    const name = given[0] ?? flag
    const raw = values[name]
    if (spec.type === 'boolean') {
      out[key] = values[`no-${name}`] === true ? false : raw === true ? true : spec.default
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
        const n = text.trim() === '' ? NaN : Number(text)
        const problem = numberProblem(spec, n)
        if (problem !== null) throw new UsageError(`--${name} ${problem}, got ${Number.isNaN(n) ? JSON.stringify(text) : n}`)
        out[key] = n
        break
      }
      case 'string':
        if (spec.choices !== undefined && !spec.choices.includes(text)) {
          throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(text)}`)
        }
        out[key] = text
        break
      case 'list':
        out[key] = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
        break
      case 'pairs':
        out[key] = parsePairs(name, text)
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
