import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { helpText, kebab, parseOptions, UsageError } from '../lib/cli-options.ts'
import { README, withCurrentLimits } from './limits-doc.ts'
import { BROKER_OPTION_TABLE, DEFAULT_OPTIONS, resolveOptions } from './options.ts'
import { runCommand, startBrokerCommand, type CommandProcess } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'

/** Flags users ran before units went into flag names; each must still work. */
const OLD_FLAGS = { 'max-payload': 'maxPayloadBytes', 'max-control-line': 'maxControlLineBytes', 'max-subscriptions': 'maxSubscriptionsPerConnection', name: 'serverName' } as const

describe('the option table', () => {
  it('is where the README limits table comes from (npm run docs:limits)', () => {
    const readme = readFileSync(README, 'utf8')
    expect(withCurrentLimits(readme), 'README.md limits table is stale: run npm run docs:limits').toBe(readme)
  })

  it('gives every option a flag in --help, with its default and old names', () => {
    const help = helpText('broker', 'test', BROKER_OPTION_TABLE)
    for (const [key, spec] of Object.entries(BROKER_OPTION_TABLE)) {
      expect(help).toContain(`--${kebab(key)}`)
      for (const alias of (spec as { aliases?: readonly string[] }).aliases ?? []) expect(help).toContain(`--${alias}`)
    }
    expect(help).toContain('[default: 1048576 (1 MiB)] (also --max-payload)')
  })

  it('gives every number option its unit in its name', () => {
    for (const [key, spec] of Object.entries(BROKER_OPTION_TABLE) as Array<[string, { unit?: string }]>) {
      if (spec.unit === 'bytes') expect(key).toMatch(/Bytes$/)
      if (spec.unit === 'ms') expect(key).toMatch(/Ms$/)
    }
  })

  it('accepts every old flag as the new one, and refuses both at once', () => {
    for (const [old, key] of Object.entries(OLD_FLAGS)) {
      const value = key === 'serverName' ? 'edge-1' : '5000'
      const viaOld = parseOptions([`--${old}`, value], BROKER_OPTION_TABLE)
      const viaNew = parseOptions([`--${kebab(key)}`, value], BROKER_OPTION_TABLE)
      expect(viaOld[key]).toEqual(viaNew[key])
      expect(viaOld[key]).not.toEqual(DEFAULT_OPTIONS[key])
      expect(() => parseOptions([`--${old}`, value, `--${kebab(key)}`, value], BROKER_OPTION_TABLE)).toThrow(UsageError)
    }
  })

  it('checks numbers against the same bounds from code as from the command line', () => {
    expect(() => resolveOptions({ maxPayloadBytes: 0 })).toThrow('option maxPayloadBytes must be at least 1, got 0')
    expect(() => resolveOptions({ port: -1 })).toThrow('option port must be at least 0')
    expect(() => resolveOptions({ maxInMsgsPerSec: 1.5 })).toThrow('option maxInMsgsPerSec must be an integer')
    expect(() => resolveOptions({ maxAckWaitMs: Number.NaN })).toThrow('option maxAckWaitMs must be an integer')
    expect(() => parseOptions(['--max-payload', '0'], BROKER_OPTION_TABLE)).toThrow('--max-payload must be at least 1, got 0')
    expect(resolveOptions({ wsPort: -1 }).wsPort).toBe(-1)
  })

  it('checks the allowed WebSocket origins from code and from the command line, saying what an entry may be', async () => {
    expect(() => resolveOptions({ wsAllowedOrigins: ['dash.example.com'] }))
      .toThrow('option wsAllowedOrigins: "dash.example.com" is not *, loopback or an origin such as https://dash.example.com:8443')
    expect(DEFAULT_OPTIONS.wsAllowedOrigins).toEqual(['loopback'])
    const bad = runCommand('broker/main.ts', ['--ws-allowed-origins', 'dash.example.com'])
    expect(await bad.exited).toBe(2)
    expect(bad.output()).toMatch(/--ws-allowed-origins: "dash.example.com" is not \*, loopback or an origin/)
  })
})

describe('npm run broker with old flags', () => {
  let broker: CommandProcess | undefined
  afterEach(async () => { await broker?.stop() })

  it('starts with --max-payload and --name as before', async () => {
    const started = await startBrokerCommand(['--max-payload', '2048', '--name', 'edge-1'])
    broker = started.broker
    const port = started.port
    const client = await RawClient.connect(port)
    const info = JSON.parse(/^INFO (.*)\r\n/.exec(client.text)?.[1] ?? '{}') as { max_payload: number, server_name: string }
    expect(info.max_payload).toBe(2048)
    expect(info.server_name).toBe('edge-1')
    client.socket.destroy()
  })
})

describe('npm run broker on a port already taken', () => {
  it('exits, and the test helper says so with what the broker printed (not that it timed out)', async () => {
    const taken = await startBrokerCommand(['--workers', '2'])
    try {
      await expect(startBrokerCommand(['--workers', '2', '--port', String(taken.port)], { timeoutMs: 60_000 }))
        .rejects.toThrow(new RegExp(`exited \\(code 1, signal null\\); it printed:\\n[^]*EADDRINUSE: address already in use 127\\.0\\.0\\.1:${taken.port}`))
    } finally {
      await taken.broker.stop()
    }
  })
})
