/**
 * Open-loop publisher: sends at a fixed rate with an intended send time per message (from a
 * uniform schedule), so latency measured from the intended time includes any stall of the
 * broker or of this generator (no coordinated omission). Its own health (publish delay =
 * actual - intended) is reported so a run whose generator fell behind is marked invalid.
 */
import { connect } from '@nats-io/transport-node'
import { encodeHistogram, newHistogram, summarize } from '../harness/histogram.ts'
import { encodeTimedPayload, fail, loadConfig, report } from './protocol.ts'

export interface RatePublisherConfig {
  url: string
  subjects: string[]
  ratePerSec: number
  payloadBytes: number
  durationMs: number
}

export interface RatePublisherResult {
  published: number
  expected: number
  publishDelayUs: ReturnType<typeof summarize>
  publishDelayHistogram: string
  cpuSeconds: number
}

async function main (): Promise<void> {
  const config = loadConfig<RatePublisherConfig>()
  const nc = await connect({ servers: config.url, name: 'bench-publisher' })
  const total = Math.round(config.ratePerSec * config.durationMs / 1000)
  const intervalNs = 1e9 / config.ratePerSec
  const delay = newHistogram()
  const cpuStart = process.cpuUsage()
  const subjects = config.subjects
  const t0 = process.hrtime.bigint()
  let i = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = Number(process.hrtime.bigint() - t0)
      const due = Math.min(total, Math.floor(elapsed / intervalNs) + 1)
      while (i < due) {
        const intended = t0 + BigInt(Math.round(i * intervalNs))
        const sent = process.hrtime.bigint()
        nc.publish(subjects[i % subjects.length] as string, encodeTimedPayload(i, intended, sent, config.payloadBytes))
        delay.recordValue(Math.max(0, Number(sent - intended) / 1000))
        i++
      }
      if (i < total) setTimeout(tick, 0)
      else resolve()
    }
    tick()
  })
  await nc.flush()
  await nc.close()
  const cpu = process.cpuUsage(cpuStart)
  const result: RatePublisherResult = {
    published: i,
    expected: total,
    publishDelayUs: summarize(delay),
    publishDelayHistogram: encodeHistogram(delay),
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  }
  report(result)
}

main().catch(fail)
