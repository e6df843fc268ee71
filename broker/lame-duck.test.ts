/**
 * Lame-duck mode, side by side with nats-server: SIGUSR2 (and `--signal ldm=<pid>`) makes the
 * broker refuse new connections, tell its clients with an INFO saying "ldm": true, close them
 * after the grace period spread over the duration, then exit; nothing is cut before the grace
 * period. The same SIGUSR2 goes to a 2-worker broker's primary.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { closeSchedule } from './lame-duck.ts'
import { startNatsServer } from './test-support/nats-server.ts'
import { runCommand, startBrokerCommand, StartedProcesses } from './test-support/processes.ts'
import { RawClient } from './test-support/raw-client.ts'
import { eventually } from './test-support/targets.ts'

const GRACE_MS = 300
const DURATION_MS = 1500

describe('the close schedule', () => {
  it('closes nobody before the grace period, and everybody before the duration ends, evenly', () => {
    expect(closeSchedule(4, { durationMs: 1000, gracePeriodMs: 200 })).toEqual([200, 400, 600, 800])
    expect(closeSchedule(1, { durationMs: 1000, gracePeriodMs: 200 })).toEqual([200])
    expect(closeSchedule(0, { durationMs: 1000, gracePeriodMs: 200 })).toEqual([])
    expect(closeSchedule(3, { durationMs: 100, gracePeriodMs: 200 })).toEqual([200, 200, 200])
  })
})

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(true))
  })
}

/** `closesAll`: every client is closed within the test's time (nats-server's shortest lame-duck duration is 30 s). */
interface Running { port: number, pid: number, exited: Promise<unknown>, closesAll: boolean }

describe('lame-duck mode', () => {
  const started = new StartedProcesses()
  afterEach(async () => { await started.stopAll() })

  const startTickfan = (workers: number) => async (): Promise<Running> => {
    const { broker, port } = await startBrokerCommand(['--workers', String(workers),
      '--lame-duck-duration-ms', String(DURATION_MS), '--lame-duck-grace-period-ms', String(GRACE_MS)])
    started.add(broker)
    return { port, pid: broker.child.pid as number, exited: broker.exited, closesAll: true }
  }
  const targets: Array<{ name: string, start: () => Promise<Running> }> = [
    { name: 'tickfan', start: startTickfan(1) },
    { name: 'tickfan, 2 workers', start: startTickfan(2) },
    {
      name: 'nats-server',
      start: async () => {
        const nats = started.add(await startNatsServer({ extraConfig: `lame_duck_duration: "30s"\nlame_duck_grace_period: "${GRACE_MS}ms"` }))
        const child = nats.process
        return { port: nats.port, pid: child.pid as number, exited: new Promise((resolve) => child.once('exit', resolve)), closesAll: false }
      }
    }
  ]

  for (const t of targets) {
    it(`${t.name}: tells every client, refuses new ones, closes them over the duration, then exits`, async () => {
      const target = await t.start()
      const clients = await Promise.all(Array.from({ length: 4 }, async () => {
        const c = await RawClient.connect(target.port)
        c.socket.write('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n')
        await c.waitFor(/PONG\r\n/)
        return c
      }))
      const closedAt: number[] = []
      const start = Date.now()
      for (const c of clients) void c.closed.then(() => closedAt.push(Date.now() - start))
      // As `npm run broker -- --signal ldm=<pid>` does.
      const signal = runCommand('broker/main.ts', ['--signal', `ldm=${target.pid}`])
      expect(await signal.exited).toBe(0)
      for (const c of clients) await c.waitFor(/INFO [^\r]*"ldm":true/, 5000)
      await eventually(async () => await refused(target.port), 5000, 'new connections to be refused')
      await eventually(() => closedAt.length > 0, GRACE_MS + 5000, 'the first client to be closed')
      expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(GRACE_MS - 50)
      if (!target.closesAll) return
      await eventually(() => closedAt.length === clients.length, DURATION_MS + 5000, 'every client to be closed')
      await Promise.race([target.exited, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('the broker did not exit')), 10_000))])
    }, 30_000)
  }

  it('--signal refuses a bad argument or a process that is not there, in one line', async () => {
    const bad = runCommand('broker/main.ts', ['--signal', 'reload=1'])
    expect(await bad.exited).toBe(2)
    expect(bad.output()).toMatch(/--signal takes ldm=<pid>/)
    const gone = runCommand('broker/main.ts', ['--signal', 'ldm=999999'])
    expect(await gone.exited).toBe(2)
    expect(gone.output()).toMatch(/cannot signal process 999999: ESRCH/)
  })
})
