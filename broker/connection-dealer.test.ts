/**
 * The primary's front door: the rotation's invariants (property tests), and the dealer over real
 * sockets with real child processes as workers, including one that dies with connections
 * dealt to it, the case Node's own round-robin loses (reports/ci/cluster-restart-flake.txt).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionDealer, Rotation, type DealTarget, type DealtConnection } from './connection-dealer.ts'
import { eventually } from './test-support/targets.ts'

describe('Rotation', () => {
  it('picks only members present, each in turn: k rounds of picks give every member k picks', () => {
    const op = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ remove: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ picks: fc.integer({ min: 1, max: 5 }) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (ops, rounds) => {
      const rotation = new Rotation<number, string>()
      const present = new Set<number>()
      for (const o of ops) {
        if ('add' in o) { rotation.add(o.add, `w${o.add}`); present.add(o.add) }
        if ('remove' in o) { rotation.delete(o.remove); present.delete(o.remove) }
        if ('picks' in o) {
          for (let i = 0; i < o.picks; i++) {
            const picked = rotation.next()
            if (present.size === 0) expect(picked).toBeUndefined()
            else expect(present.has((picked as [number, string])[0])).toBe(true)
          }
        }
      }
      expect(rotation.size).toBe(present.size)
      const counts = new Map<number, number>()
      for (let i = 0; i < rounds * present.size; i++) {
        const [key, value] = rotation.next() as [number, string]
        expect(value).toBe(`w${key}`)
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      for (const key of present) expect(counts.get(key)).toBe(rounds)
    }))
  })

  it('does not skip the member after one removed behind the cursor', () => {
    const rotation = new Rotation<string, string>()
    for (const k of ['a', 'b', 'c']) rotation.add(k, k)
    expect(rotation.next()?.[0]).toBe('a')
    expect(rotation.next()?.[0]).toBe('b')
    rotation.delete('a')
    expect(rotation.next()?.[0]).toBe('c')
    expect(rotation.next()?.[0]).toBe('b')
  })
})

describe('ConnectionDealer, the broker-wide connection limit', () => {
  it('deals a connection as full exactly when the workers together hold --max-connections: places freed as connections close or their worker goes', () => {
    const op = fc.oneof(
      fc.constant({ deal: true as const }),
      fc.record({ left: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ retire: fc.integer({ min: 0, max: 2 }) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 0, max: 6 }), (ops, max) => {
      const dealer = new ConnectionDealer<number>(() => {}, max)
      const held = [0, 0, 0] // the model: places each worker holds
      const dealtTo: number[] = []
      const target = (key: number): DealTarget => ({
        isConnected: () => true,
        send: (m, _socket, cb) => {
          const total = held.reduce((a, b) => a + b, 0)
          expect(m.full).toBe(total >= max)
          if (!m.full) held[key] = (held[key] as number) + 1
          dealtTo.push(key)
          cb(null)
        }
      })
      for (let k = 0; k < 3; k++) dealer.admit(k, target(k))
      const socket = { destroy: () => {}, end: () => {} } as unknown as net.Socket
      for (const o of ops) {
        if ('deal' in o) { dealer.deal('nats', socket); dealer.took(dealtTo.at(-1) as number) }
        if ('left' in o && (held[o.left] as number) > 0) { dealer.left(o.left); held[o.left] = (held[o.left] as number) - 1 }
        if ('retire' in o) { dealer.retire(o.retire); held[o.retire] = 0; dealer.admit(o.retire, target(o.retire)) }
        expect(dealer.openConnections).toBe(held.reduce((a, b) => a + b, 0))
      }
    }))
  })
})

/** Connects to the dealer and reads until the connection closes, or for `patienceMs` at most (then still open). */
async function visit (port: number, patienceMs = 5000): Promise<{ text: string, closed: boolean }> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const giveUp = setTimeout(() => { socket.destroy(); resolve({ text, closed: false }) }, patienceMs)
    socket.on('data', (d: Buffer) => { text += d.toString() })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(giveUp); resolve({ text, closed: true }) })
  })
}

describe('ConnectionDealer', () => {
  let dir: string
  let script: string
  const children: ChildProcess[] = []

  /** A worker process that answers every connection dealt to it with its name, then closes it. */
  function startWorker (name: string): Promise<ChildProcess> {
    const child = fork(script, [name], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    children.push(child)
    return new Promise((resolve) => child.once('message', () => resolve(child)))
  }
  /** As broker/cluster.ts does with a cluster worker. */
  function admit (dealer: ConnectionDealer<string>, name: string, child: ChildProcess): void {
    child.on('message', (m: { type?: string }) => { if (m.type === 'took') dealer.took(name) })
    child.once('exit', () => { dealer.retire(name) })
    dealer.admit(name, {
      isConnected: () => child.connected,
      send: (message: DealtConnection, socket: net.Socket, callback: (err: Error | null) => void) => {
        child.send(message, socket, { keepOpen: true }, callback)
      }
    })
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tickfan-dealer-'))
    script = path.join(dir, 'worker.cjs')
    writeFileSync(script, `
      process.on('message', (m, socket) => {
        if (m.type !== 'connection') return
        process.send({ type: 'took' })
        socket.end(process.argv[2] + ' via ' + m.door)
      })
      process.send('up')
    `)
  })

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('deals connections to its workers in turn, through the door they came in', async () => {
    const dealer = new ConnectionDealer<string>()
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    const ws = await dealer.listen('ws', 0, '127.0.0.1')
    for (const name of ['a', 'b', 'c']) admit(dealer, name, await startWorker(name))
    const seen: string[] = []
    for (let i = 0; i < 6; i++) seen.push((await visit(nats)).text)
    seen.push((await visit(ws)).text)
    expect(seen).toEqual(['a via nats', 'b via nats', 'c via nats', 'a via nats', 'b via nats', 'c via nats', 'a via ws'])
    expect(dealer.dealt).toBe(7)
    dealer.close()
  })

  it('tells a client that no worker can take it why, and closes it', async () => {
    const dealer = new ConnectionDealer<string>()
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    const ws = await dealer.listen('ws', 0, '127.0.0.1')
    expect(await visit(nats)).toEqual({ text: "-ERR 'no broker worker is available'\r\n", closed: true })
    expect((await visit(ws)).text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
    expect(dealer.refused).toBe(2)
    dealer.close()
  })

  it('survives a failed accept, counting it and saying so once a second at most', async () => {
    const said: string[] = []
    const dealer = new ConnectionDealer<string>((line) => { said.push(line) })
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    admit(dealer, 'a', await startWorker('a'))
    const [server] = (dealer as unknown as { servers: net.Server[] }).servers
    for (let i = 0; i < 3; i++) server?.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))
    expect(dealer.acceptErrors).toBe(3)
    expect(said).toEqual(['the nats port could not accept a connection (accept EMFILE); 1 so far'])
    expect((await visit(nats)).text).toBe('a via nats') // still dealing
    dealer.close()
  })

  it('skips a worker whose channel is gone, and deals again a connection a worker could not be sent', async () => {
    const dealer = new ConnectionDealer<string>()
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    const live = await startWorker('live')
    dealer.admit('gone', { isConnected: () => false, send: () => { throw new Error('never asked') } })
    dealer.admit('failing', { isConnected: () => true, send: (_m, _s, callback) => { callback(new Error('channel closed')) } })
    admit(dealer, 'live', live)
    for (let i = 0; i < 3; i++) expect((await visit(nats)).text).toBe('live via nats')
    expect(dealer.dealtAgain).toBeGreaterThan(0)
    dealer.close()
  })

  it('closes its copy of the connection a worker took, even when the worker says so before the send calls back', async () => {
    const dealer = new ConnectionDealer<string>()
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    const sends: Array<(err: Error | null) => void> = []
    dealer.admit('w', { isConnected: () => true, send: (_m, _s, callback) => { sends.push(callback) } })
    const early = visit(nats)
    await eventually(() => sends.length === 1, 2000, 'the first send')
    dealer.took('w') // before the send's callback
    expect(await early).toEqual({ text: '', closed: true }) // our copy closed: the worker's is the only one
    ;(sends[0] as (err: Error | null) => void)(null) // late: nothing left to do
    const inOrder = visit(nats)
    await eventually(() => sends.length === 2, 2000, 'the second send')
    ;(sends[1] as (err: Error | null) => void)(null)
    dealer.took('w')
    expect(await inOrder).toEqual({ text: '', closed: true })
    dealer.retire('w')
    expect(dealer.lost).toBe(0) // nothing was left waiting for the worker
    dealer.close()
  })

  it('loses no connection to a worker that dies with connections dealt to it: those not yet sent go to another, the one on its way is closed', async () => {
    const dealer = new ConnectionDealer<string>()
    const nats = await dealer.listen('nats', 0, '127.0.0.1')
    const frozen = await startWorker('frozen')
    const live = await startWorker('live')
    admit(dealer, 'frozen', frozen)
    admit(dealer, 'live', live)
    // The frozen worker reads nothing: the first connection dealt to it is written and never
    // taken, the second waits behind it (node:child_process sends one handle at a time).
    frozen.kill('SIGSTOP')
    const visits = [visit(nats), visit(nats), visit(nats)] as const // frozen, live, frozen
    await eventually(() => dealer.dealt === 3, 5000, 'three connections dealt')
    frozen.kill('SIGKILL')
    const [written, second, queued] = await Promise.all(visits)
    expect(written).toEqual({ text: '', closed: true }) // closed, not held open: the client reconnects at once
    expect(second).toEqual({ text: 'live via nats', closed: true })
    expect(queued).toEqual({ text: 'live via nats', closed: true }) // never sent to the dead worker: served by the live one
    expect([dealer.lost, dealer.dealtAgain]).toEqual([1, 1])
    dealer.close()
  })
})
