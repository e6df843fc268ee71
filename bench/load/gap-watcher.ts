/**
 * The bystander of `npm run test:adversary`: an ordinary client that publishes a tick to itself
 * every 10 ms and records the longest gap between two ticks it receives while a flood runs.
 * It also records how late its own timer fired: when this process was itself held up (the
 * machine, not the broker), the gap it saw says nothing about the broker.
 *
 * Orchestrator -> watcher: { type: 'connect', url, user, pass }, { type: 'start' },
 * { type: 'stop' } (answered with a 'window' message), { type: 'disconnect' }, { type: 'exit' }.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { fail, report } from './protocol.ts'

export const TICK_MS = 10

export interface GapWindow {
  type: 'window'
  /** Longest time between two ticks received in the window, the open one at its end included. */
  longestGapMs: number
  /** When that gap ended, in ms from the window's start. */
  longestGapEndedAtMs: number
  ticksSent: number
  ticksReceived: number
  /** Longest this process's 10 ms timer fired late in the window. */
  timerLateMaxMs: number
  /** Set when the broker closed or refused this bystander. */
  error: string | null
}

type Command = { type: 'connect', url: string, user: string, pass: string } | { type: 'start' | 'stop' | 'disconnect' | 'exit' }

let nc: NatsConnection | null = null
let timer: NodeJS.Timeout | null = null
let window: GapWindow | null = null
let lastArrival = 0
let lastTick = 0
let windowStart = 0
let error: string | null = null

function startTicking (conn: NatsConnection): void {
  const payload = new Uint8Array(64).fill(120)
  lastTick = performance.now()
  timer = setInterval(() => {
    const now = performance.now()
    if (window !== null) {
      window.timerLateMaxMs = Math.max(window.timerLateMaxMs, now - lastTick - TICK_MS)
      window.ticksSent++
    }
    lastTick = now
    try { conn.publish('watch.tick', payload) } catch (err) { error = (err as Error).message }
  }, TICK_MS)
}

async function handle (cmd: Command): Promise<void> {
  switch (cmd.type) {
    case 'connect': {
      error = null
      nc = await connect({ servers: cmd.url, user: cmd.user, pass: cmd.pass, reconnect: false, name: 'gap-watcher' })
      nc.subscribe('watch.tick', {
        callback: () => {
          const now = performance.now()
          if (window !== null) {
            if (now - lastArrival > window.longestGapMs) {
              window.longestGapMs = now - lastArrival
              window.longestGapEndedAtMs = now - windowStart
            }
            window.ticksReceived++
          }
          lastArrival = now
        }
      })
      void nc.closed().then((err) => { if (err !== undefined && err !== null) error = (err as Error).message })
      await nc.flush()
      startTicking(nc)
      process.send?.({ type: 'connected' })
      return
    }
    case 'start':
      lastArrival = performance.now()
      windowStart = lastArrival
      window = { type: 'window', longestGapMs: 0, longestGapEndedAtMs: 0, ticksSent: 0, ticksReceived: 0, timerLateMaxMs: 0, error: null }
      process.send?.({ type: 'started' })
      return
    case 'stop': {
      const w = window ?? { type: 'window', longestGapMs: 0, longestGapEndedAtMs: 0, ticksSent: 0, ticksReceived: 0, timerLateMaxMs: 0, error: null }
      window = null
      const now = performance.now()
      if (now - lastArrival > w.longestGapMs) {
        w.longestGapMs = now - lastArrival
        w.longestGapEndedAtMs = now - windowStart
      }
      w.error = error ?? (nc?.isClosed() === true ? 'the connection was closed' : null)
      process.send?.(w)
      return
    }
    case 'disconnect':
      if (timer !== null) clearInterval(timer)
      timer = null
      await nc?.close().catch(() => {})
      nc = null
      process.send?.({ type: 'disconnected' })
      return
    case 'exit':
      report({ done: true })
  }
}

let queue = Promise.resolve()
process.on('message', (cmd: Command) => {
  queue = queue.then(async () => { await handle(cmd) }).catch((err: unknown) => { fail(err) })
})
