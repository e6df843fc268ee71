/**
 * The servers an integration suite can run against: the tickfan broker in this process, the
 * broker command with three workers, or a real nats-server child process. Suites that check
 * plain NATS semantics run against all three, so they test NATS itself and not tickfan's
 * reading of it, on one worker and across workers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { AuthorizationConfig } from '../auth.ts'
import type { BrokerOptions } from '../options.ts'
import { startBroker, type RunningBroker } from '../server.ts'
import { startNatsServer, type NatsServerOptions, type NatsServerProcess } from './nats-server.ts'
import { startBrokerCommand } from './processes.ts'

export interface Target {
  readonly name: 'tickfan' | 'tickfan --workers 3' | 'nats-server'
  readonly port: number
  readonly natsUrl: string
  readonly wsUrl: string
  readonly httpUrl: string
  /** Present for tickfan: the in-process broker, for white-box assertions. */
  readonly broker: RunningBroker | null
  stop (): Promise<void>
}

/** Where a started server listens, as every target names it. */
function targetOf (
  name: Target['name'],
  at: { port: number, natsUrl: string, wsUrl: string | null, httpUrl: string | null },
  broker: RunningBroker | null,
  stop: () => Promise<void>
): Target {
  const { port, natsUrl } = at
  return { name, port, natsUrl, wsUrl: at.wsUrl as string, httpUrl: at.httpUrl as string, broker, stop }
}

export async function startTickfan (options: Partial<BrokerOptions> = {}): Promise<Target> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, httpPort: 0, logLevel: 'silent', ...options })
  return targetOf('tickfan', broker, broker, () => broker.close())
}

/** nats-server with `extraConfig` lines (an authorization block), and JetStream on when asked. */
export async function startReference (options: Pick<NatsServerOptions, 'extraConfig' | 'jetstream'> = {}): Promise<Target> {
  const server: NatsServerProcess = await startNatsServer(options)
  return targetOf('nats-server', server, null, () => server.stop())
}

/**
 * The broker command with several workers, as an operator on a machine of four cores or more
 * runs it by default: a local publish goes round the worker mesh before its own worker delivers it.
 */
export async function startTickfanWorkers (authorization: AuthorizationConfig | null = null): Promise<Target> {
  let authDir: string | null = null
  const args = ['--workers', '3', '--ws-port=0', '--http-port=0']
  if (authorization !== null) {
    authDir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-auth-'))
    const file = path.join(authDir, 'auth.json')
    writeFileSync(file, JSON.stringify({ authorization }))
    args.push('--auth', file)
  }
  const started = await startBrokerCommand(args)
  return targetOf('tickfan --workers 3', started, null, async () => {
    await started.broker.stop('SIGINT')
    if (authDir !== null) rmSync(authDir, { recursive: true, force: true })
  })
}

export const TARGETS: ReadonlyArray<{ name: Target['name'], start: () => Promise<Target> }> = [
  { name: 'tickfan', start: () => startTickfan() },
  { name: 'tickfan --workers 3', start: () => startTickfanWorkers() },
  { name: 'nats-server', start: () => startReference() }
]

/** nats-server's config text for an authorization block, so both targets run the same rules. */
export function natsServerAuthorization (config: AuthorizationConfig): string {
  const users = config.users?.map((u) => {
    const p = u.permissions
    const responses = p?.allow_responses
    const permissions = p === undefined
      ? undefined
      : {
          ...(p.publish !== undefined ? { publish: p.publish } : {}),
          ...(p.subscribe !== undefined ? { subscribe: p.subscribe } : {}),
          ...(responses === true ? { allow_responses: true } : {}),
          ...(typeof responses === 'object' ? { allow_responses: { max: responses.max ?? 1, ...(responses.expires_ms !== undefined ? { expires: `${responses.expires_ms}ms` } : {}) } } : {})
        }
    return { user: u.user, password: u.password, ...(permissions !== undefined ? { permissions } : {}) }
  })
  const block = {
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(users !== undefined ? { users } : {})
  }
  return `authorization: ${JSON.stringify(block)}\n${config.no_auth_user !== undefined ? `no_auth_user: ${JSON.stringify(config.no_auth_user)}\n` : ''}`
}

/** Both targets with the same authorization rules. */
export function targetsWithAuthorization (config: AuthorizationConfig): ReadonlyArray<{ name: Target['name'], start: () => Promise<Target> }> {
  return [
    { name: 'tickfan', start: () => startTickfan({ authorization: config }) },
    { name: 'tickfan --workers 3', start: () => startTickfanWorkers(config) },
    { name: 'nats-server', start: () => startReference({ extraConfig: natsServerAuthorization(config) }) }
  ]
}

/** Node 20 has no global WebSocket; nats.js wsconnect needs one. */
export async function ensureWebSocketGlobal (): Promise<void> {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
    const { WebSocket } = await import('ws')
    ;(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket
  }
}

export function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `check` returns true. */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await delay(20)
  }
}
