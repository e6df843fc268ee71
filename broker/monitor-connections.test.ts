/**
 * The monitoring port is bounded as the client ports are: at most MONITOR_MAX_CONNECTIONS at
 * once (Node closes one past it at once), and a connection silent for MONITOR_IDLE_MS is closed.
 * Unbounded, sockets that never speak held the broker's files for ever, eating the files kept
 * free beside its clients (lib/open-files.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MONITOR_IDLE_MS, MONITOR_MAX_CONNECTIONS } from './monitor.ts'
import { opened, within } from './test-support/connection-probes.ts'
import { startTickfan, type Target } from './test-support/targets.ts'

describe('the monitoring port', () => {
  // A broker each: the first case's sockets (and fetch's pooled one) would count in the second's.
  let t: Target
  let port: number
  beforeEach(async () => {
    t = await startTickfan()
    port = Number(new URL(t.httpUrl).port)
  })
  afterEach(async () => { await t?.stop() })

  it(`serves ${MONITOR_MAX_CONNECTIONS} connections at once, closes one more at once, and serves again when one goes`, async () => {
    const held = await Promise.all(Array.from({ length: MONITOR_MAX_CONNECTIONS }, async () => await opened(port)))
    try {
      const extra = await opened(port)
      expect(await within(extra.closed, 2000)).not.toBeNull()
      held.pop()?.socket.destroy()
      // Each try bounded: a try the port drops (it has not yet seen the close) may otherwise wait.
      const health = async (): Promise<number> =>
        await fetch(`${t.httpUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0)
      await expect.poll(health, { timeout: 5000 }).toBe(200)
    } finally {
      for (const { socket } of held) socket.destroy()
    }
  })

  it(`closes a connection that says nothing for ${MONITOR_IDLE_MS / 1000} s`, async () => {
    const silent = await opened(port)
    const ms = await within(silent.closed, MONITOR_IDLE_MS * 2)
    silent.socket.destroy()
    expect(ms).not.toBeNull()
    expect(ms).toBeGreaterThanOrEqual(MONITOR_IDLE_MS - 100)
  }, MONITOR_IDLE_MS * 3)
})
