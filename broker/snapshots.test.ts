/**
 * Snapshots in bounded work per turn (snapshots.ts): a large snapshot arrives whole, each
 * subject once with its newest value, even while prices move; a subscriber that does not read
 * holds only about a batch of it; UNSUB ends it.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { SNAPSHOT_TURN_BUDGET } from './snapshots.ts'
import { decodeFrames } from './test-support/frames.ts'
import { RawClient } from './test-support/raw-client.ts'
import { delay, eventually, startTickfan, type Target } from './test-support/targets.ts'

const SUBJECTS = 5000

let target: Target | null = null
const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  await target?.stop()
  target = null
})

async function cacheFull (t: Target): Promise<NatsConnection> {
  const pub = await connect({ servers: t.natsUrl })
  closers.push(() => pub.close())
  for (let i = 0; i < SUBJECTS; i++) pub.publish(`quote.v.S${String(i).padStart(5, '0')}`, `0:${i}`)
  await pub.flush()
  await eventually(() => t.broker?.router.lastValues.size === SUBJECTS, 5000, 'the cache to hold every subject')
  return pub
}

describe('snapshots larger than a batch', () => {
  it('arrive whole, each subject once with its newest value, while prices move', async () => {
    target = await startTickfan()
    const pub = await cacheFull(target)
    const sub = await RawClient.connect(target.port)
    closers.push(() => sub.close())
    sub.socket.write('CONNECT {"verbose":false}\r\nSUB quote.v.> 1\r\n')
    // Prices move while the snapshot is still being delivered.
    for (let i = 0; i < SUBJECTS; i += 7) pub.publish(`quote.v.S${String(i).padStart(5, '0')}`, `1:${i}`)
    await pub.flush()
    await eventually(() => target?.broker?.router.snapshots.pending === 0, 10_000, 'the snapshot to finish')
    sub.socket.write('PING\r\n')
    await sub.waitFor(/PONG\r\n/, 10_000)
    const last = new Map<string, string>()
    for (const f of decodeFrames(sub.text)) {
      if (f.op !== 'MSG') continue
      const before = last.get(f.subject as string)
      // Never an older value after a newer one (no duplicate of the old one either).
      expect(before === undefined || before.startsWith('0:')).toBe(true)
      last.set(f.subject as string, f.payload as string)
    }
    expect(last.size).toBe(SUBJECTS)
    for (const [subject, payload] of last) {
      const i = Number(subject.slice(-5))
      expect(payload).toBe(i % 7 === 0 ? `1:${i}` : `0:${i}`)
    }
  })

  it('hold only about a batch for a subscriber that does not read, and end at UNSUB', async () => {
    target = await startTickfan()
    await cacheFull(target)
    const sub = await RawClient.connect(target.port)
    closers.push(() => sub.close())
    sub.socket.pause() // it never reads
    sub.socket.write('CONNECT {"verbose":false}\r\n')
    for (let i = 1; i <= 50; i++) sub.socket.write(`SUB quote.> ${i}\r\n`)
    const router = target.broker?.router
    await delay(500)
    const client = [...(router?.clients.values() ?? [])].find((c) => c.subscriptions.size === 50)
    expect(client).toBeDefined()
    // 50 snapshots of 5,000 subjects would be 250,000 messages; it was given a turn's budget or
    // two before its flow window closed, and holds no more.
    const given = (client?.writer.outMsgs ?? 0) + (client?.outbox.pendingMessages ?? 0)
    expect(given).toBeLessThan(3 * SNAPSHOT_TURN_BUDGET)
    expect(router?.snapshots.pending).toBe(50)
    for (let i = 1; i <= 50; i++) sub.socket.write(`UNSUB ${i}\r\n`)
    await eventually(() => router?.snapshots.pending === 0, 5000, 'UNSUB to end the snapshots')
  })
})
