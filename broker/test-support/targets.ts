/**
 * The servers an integration suite can run against: the tickfan broker in this process, or a
 * real nats-server child process. Suites that check plain NATS semantics run against both, so
 * they test NATS itself and not tickfan's reading of it.
 */
import type { BrokerOptions } from '../options.ts'
import { startBroker, type RunningBroker } from '../server.ts'
import { startNatsServer, type NatsServerProcess } from './nats-server.ts'

export interface Target {
  readonly name: 'tickfan' | 'nats-server'
  readonly port: number
  readonly natsUrl: string
  readonly wsUrl: string
  readonly httpUrl: string
  /** Present for tickfan: the in-process broker, for white-box assertions. */
  readonly broker: RunningBroker | null
  stop (): Promise<void>
}

export async function startTickfan (options: Partial<BrokerOptions> = {}): Promise<Target> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, httpPort: 0, logLevel: 'silent', ...options })
  return {
    name: 'tickfan',
    port: broker.port,
    natsUrl: broker.natsUrl,
    wsUrl: broker.wsUrl as string,
    httpUrl: broker.httpUrl as string,
    broker,
    stop: () => broker.close()
  }
}

export async function startReference (): Promise<Target> {
  const server: NatsServerProcess = await startNatsServer()
  return { name: 'nats-server', port: server.port, natsUrl: server.natsUrl, wsUrl: server.wsUrl, httpUrl: server.httpUrl, broker: null, stop: () => server.stop() }
}

export const TARGETS: ReadonlyArray<{ name: Target['name'], start: () => Promise<Target> }> = [
  { name: 'tickfan', start: () => startTickfan() },
  { name: 'nats-server', start: startReference }
]

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
