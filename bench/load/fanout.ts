/**
 * Fan-out throughput with the official client: one publisher and N subscribers (separate
 * connections, in this process). The publisher keeps at most `window` messages in flight
 * beyond the slowest subscriber, so neither broker is pushed into its slow-consumer handling:
 * this measures how many deliveries per second the broker sustains to clients that keep up.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { fail, loadConfig, report } from './protocol.ts'

export interface FanoutConfig {
  url: string
  subject: string
  subscribers: number
  messages: number
  payloadBytes: number
  window: number
}

export interface FanoutResult {
  published: number
  delivered: number
  elapsedMs: number
  deliveredPerSec: number
  cpuSeconds: number
}

async function main (): Promise<void> {
  const config = loadConfig<FanoutConfig>()
  const subs: NatsConnection[] = []
  const counts = new Array<number>(config.subscribers).fill(0)
  let delivered = 0
  let wake: (() => void) | null = null
  for (let s = 0; s < config.subscribers; s++) {
    const nc = await connect({ servers: config.url, name: `fanout-sub-${s}` })
    nc.subscribe(config.subject, {
      callback: () => {
        counts[s] = (counts[s] ?? 0) + 1
        delivered++
        if (wake !== null) { const w = wake; wake = null; w() }
      }
    })
    await nc.flush()
    subs.push(nc)
  }
  const pub = await connect({ servers: config.url, name: 'fanout-pub' })
  const payload = new Uint8Array(config.payloadBytes).fill(120)
  const cpuStart = process.cpuUsage()
  const start = process.hrtime.bigint()
  const slowest = (): number => { let m = Infinity; for (const c of counts) if (c < m) m = c; return m }
  let published = 0
  const batch = Math.max(1, Math.floor(config.window / 4))
  while (published < config.messages) {
    while (published - slowest() > config.window) await new Promise<void>((resolve) => { wake = resolve })
    const n = Math.min(batch, config.messages - published)
    for (let k = 0; k < n; k++) pub.publish(config.subject, payload)
    published += n
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  while (slowest() < config.messages) await new Promise<void>((resolve) => { wake = resolve })
  const elapsedNs = Number(process.hrtime.bigint() - start)
  const cpu = process.cpuUsage(cpuStart)
  await pub.close()
  await Promise.all(subs.map((nc) => nc.close()))
  report({
    published,
    delivered,
    elapsedMs: elapsedNs / 1e6,
    deliveredPerSec: delivered / (elapsedNs / 1e9),
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  } satisfies FanoutResult)
}

main().catch(fail)
