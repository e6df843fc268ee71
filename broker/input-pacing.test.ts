/**
 * Input never outruns output: the pure rules (read budget, holding a publisher back) and, over
 * real sockets, a publisher at full speed to one subscriber reading as fast as it can, against
 * tickfan and nats-server: every message delivered, nobody cut off as a slow consumer.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FrameScanner } from '../bench/load/frame-scanner.ts'
import {
  cachedCpuClock, InputPacing, MAX_HOLD_MS, READ_BUDGET_BYTES, READ_BUDGET_MIN_BYTES, READ_BUDGET_MS, ReadGate,
  type Pausable
} from './input-pacing.ts'
import { startNatsServer } from './test-support/nats-server.ts'
import { startBrokerCommand, StartedProcesses } from './test-support/processes.ts'
import { eventually } from './test-support/targets.ts'

class Connection implements Pausable {
  paused = false
  pauseReading (): void { this.paused = true }
  resumeReading (): void { this.paused = false }
}

describe('ReadGate', () => {
  const READ = 64 * 1024

  it('spends the budget at READ_BUDGET_BYTES while reads come within READ_BUDGET_MS', () => {
    const gate = new ReadGate(new Connection())
    const now = (): number => 1000
    const reads = READ_BUDGET_BYTES / READ
    for (let i = 1; i < reads; i++) expect(gate.spent(READ, now, now)).toBe(false)
    expect(gate.spent(READ, now, now)).toBe(true)
    // And counts afresh after.
    expect(gate.spent(READ, now, now)).toBe(false)
  })

  it('spends it past READ_BUDGET_MIN_BYTES once the reads since the last pause have taken READ_BUDGET_MS', () => {
    const gate = new ReadGate(new Connection())
    let ms = 1000
    const now = (): number => ms // CPU and wall time alike: a process never stopped
    expect(gate.spent(READ, now, now)).toBe(false) // one read, the time not up
    ms += READ_BUDGET_MS
    expect(gate.spent(READ, now, now)).toBe(true)
    // Small reads far apart: nothing spent below READ_BUDGET_MIN_BYTES, however long they take.
    for (let read = 0; read < READ_BUDGET_MIN_BYTES / 1000 - 1; read++) {
      ms += 1000
      expect(gate.spent(1000, now, now)).toBe(false)
    }
    ms += 1000
    expect(gate.spent(1000, now, now)).toBe(true)
  })
})

describe('ReadGate and its clocks', () => {
  const READ = 64 * 1024

  it('reads the CPU clock past READ_BUDGET_MIN_BYTES only once READ_BUDGET_MS of wall time have passed', () => {
    const gate = new ReadGate(new Connection())
    let wall = 1000
    let cpu = 500
    let cpuReads = 0
    const now = (): number => { cpuReads++; return cpu }
    expect(gate.spent(READ, now, () => wall)).toBe(false) // the first read after a pause: both clocks read
    expect(cpuReads).toBe(1)
    for (let i = 0; i < 3; i++) {
      wall += 0.5; cpu += 0.5
      expect(gate.spent(READ, now, () => wall)).toBe(false)
    }
    expect(cpuReads).toBe(1) // 1.5 ms of wall time: no CPU time to ask about yet
    wall += 0.5; cpu += 0.5
    expect(gate.spent(READ, now, () => wall)).toBe(true) // 2 ms of both
    expect(cpuReads).toBe(2)
  })

  it('does not spend the budget on wall time the process was stopped for', () => {
    const gate = new ReadGate(new Connection())
    let wall = 1000
    let cpu = 500
    expect(gate.spent(READ, () => cpu, () => wall)).toBe(false)
    wall += 7.5 + 0.5; cpu += 0.5 // a stop of the quota, then half a ms of work
    expect(gate.spent(READ, () => cpu, () => wall)).toBe(false)
    wall += 1.5; cpu += 1.5
    expect(gate.spent(READ, () => cpu, () => wall)).toBe(true)
  })
})

describe('cachedCpuClock', () => {
  it('asks the system at most once per refresh interval of wall time, and adds the wall time in between', () => {
    let wall = 100
    let cpu = 40
    let asked = 0
    const clock = cachedCpuClock(1, () => wall, () => { asked++; return cpu })
    expect(clock()).toBe(40)
    wall += 0.25; cpu += 0.25
    expect(clock()).toBe(40.25)
    wall += 0.5; cpu += 0.5
    expect(clock()).toBe(40.75)
    expect(asked).toBe(1)
    wall += 0.25; cpu += 0.25 // a whole interval since the system was asked
    expect(clock()).toBe(41)
    expect(asked).toBe(2)
  })

  it('counts a stop of the quota as no CPU time: the wall clock jumped, so the system is asked', () => {
    let wall = 100
    let cpu = 40
    const clock = cachedCpuClock(1, () => wall, () => cpu)
    const before = clock()
    wall += 0.5; cpu += 0.5
    wall += 7.5 // stopped: wall time passes, CPU time does not
    wall += 0.5; cpu += 0.5
    expect(clock() - before).toBe(1)
  })

  it('asks the system again if the wall clock goes backwards', () => {
    let wall = 100
    let asked = 0
    const clock = cachedCpuClock(1, () => wall, () => { asked++; return 40 + asked })
    clock()
    wall -= 5
    expect(clock()).toBe(42)
  })
})

describe('InputPacing', () => {
  it('pauses a connection that spent its read budget until the end of the turn', () => {
    const turns: Array<() => void> = []
    const pacing = new InputPacing<Connection>(() => 0, (run) => turns.push(run))
    const a = new Connection()
    const b = new Connection()
    pacing.budgetSpent(a)
    pacing.budgetSpent(b)
    expect([a.paused, b.paused]).toEqual([true, true])
    expect(turns.length).toBe(1) // one end-of-turn for all
    turns[0]?.()
    expect([a.paused, b.paused]).toEqual([false, false])
  })

  it('holds a publisher back until every subscriber it waits for catches up', () => {
    const pacing = new InputPacing<Connection>(() => 0, (run) => run())
    const pub = new Connection()
    const s1 = new Connection()
    const s2 = new Connection()
    pacing.holdBack(pub, s1)
    pacing.holdBack(pub, s2)
    expect(pub.paused).toBe(true)
    pacing.budgetSpent(pub) // the end of the turn does not resume a held publisher
    expect(pub.paused).toBe(true)
    pacing.caughtUp(s1)
    expect(pub.paused).toBe(true)
    pacing.caughtUp(s2)
    expect(pub.paused).toBe(false)
    expect(pacing.heldBack).toBe(1)
    pacing.stop()
  })

  it('lets go after MAX_HOLD_MS of a subscriber that does not catch up, and is not held back by it again', async () => {
    let now = 0
    const pacing = new InputPacing<Connection>(() => now, (run) => run())
    const pub = new Connection()
    const stuck = new Connection()
    pacing.holdBack(pub, stuck)
    now = MAX_HOLD_MS
    await eventually(() => !pub.paused, 2000, 'the hold to run out')
    expect(pacing.holdsExpired).toBe(1)
    pacing.holdBack(pub, stuck)
    expect(pub.paused).toBe(false)
    pacing.caughtUp(stuck) // it caught up: it may hold publishers back again
    pacing.holdBack(pub, stuck)
    expect(pub.paused).toBe(true)
    pacing.closed(stuck)
    expect(pub.paused).toBe(false)
    pacing.stop()
  })
})

/** A raw subscriber that reads as fast as it can and answers every PING. */
async function fastSubscriber (
  port: number,
  subject: string
): Promise<{ counter: FrameScanner, socket: net.Socket, text: () => string }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const counter = new FrameScanner()
  let control = ''
  socket.on('data', (chunk: Buffer) => {
    const pings = counter.feed(chunk)
    if (pings > 0) socket.write('PONG\r\n'.repeat(pings))
    if (control.length < 4096 && chunk.includes('-ERR')) control += chunk.toString('latin1')
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(`CONNECT {"verbose":false,"pedantic":false}\r\nSUB ${subject} 1\r\nPING\r\n`)
  await eventually(() => counter.pongs > 0, 5000, 'the subscription to be in place')
  return { counter, socket, text: () => control }
}

describe('a publisher at full speed to one subscriber reading as fast as it can', () => {
  const MESSAGES = 300_000
  const started = new StartedProcesses()
  afterEach(async () => { await started.stopAll() })

  // Each broker in its own process, as users run it: the clients here share this one's loop.
  const startTickfan = async (): Promise<number> => {
    const { broker, port } = await startBrokerCommand([])
    started.add(broker)
    return port
  }
  const targets: Array<{ name: string, start: () => Promise<number> }> = [
    { name: 'tickfan', start: startTickfan },
    { name: 'nats-server', start: async () => started.add(await startNatsServer()).port }
  ]
  for (const t of targets) {
    it(`${t.name}: delivers every message of a plain subject, and cuts nobody off`, async () => {
      const port = await t.start()
      const sub = await fastSubscriber(port, 'plain.flood')
      const pub = net.connect(port, '127.0.0.1')
      pub.on('error', () => {})
      await new Promise<void>((resolve) => pub.once('connect', () => resolve()))
      const payload = 'x'.repeat(128)
      const batch = `PUB plain.flood 128\r\n${payload}\r\n`.repeat(1000)
      pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
      // As fast as the socket takes it: a batch of 1,000 messages whenever it drains.
      for (let sent = 0; sent < MESSAGES; sent += 1000) {
        if (!pub.write(batch)) await new Promise<void>((resolve) => pub.once('drain', () => resolve()))
      }
      await eventually(() => sub.counter.messages >= MESSAGES || sub.socket.destroyed || sub.text() !== '', 60_000, 'every message to arrive')
      expect(sub.text()).toBe('')
      expect(sub.counter.messages).toBe(MESSAGES)
      pub.destroy()
      sub.socket.destroy()
    }, 90_000)
  }
})
