/**
 * The floods of `npm run test:adversary`: each one an attack from the review of the broker's
 * defences, run for a few seconds against a fresh broker while a bystander (gap-watcher.ts)
 * measures its own deliveries. Every attacker is paced by its socket (it writes while the
 * kernel takes the bytes), so the attack costs the attacking process little and the broker all
 * it will take.
 */
import net from 'node:net'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import bcrypt from 'bcryptjs'
import type { AuthorizationConfig } from '../../broker/auth.ts'

/** What a flood runs against. */
export interface FloodTarget {
  name: 'tickfan' | 'nats-server'
  port: number
  httpPort: number
  natsUrl: string
}

export interface Flood {
  name: string
  /** What it does, for the report. */
  what: string
  /** The defect of the review it re-runs. */
  review: string
  /** Targets it applies to: some attack what only tickfan has (its cache, its monitoring logins). */
  targets: ReadonlyArray<FloodTarget['name']>
  /** Extra broker options for tickfan, when the flood needs them. */
  tickfanArgs?: string[]
  /** Bytes tickfan keeps by those options (its cache bound): allowed on top of the memory limit. */
  heldBytes?: number
  /** Work before the attack (not measured). */
  setup?: (target: FloodTarget) => Promise<void>
  /**
   * The attack: runs for `ms` (a flood defined by a count runs until it is done), then says what
   * it saw beyond the bystander's gap and the memory.
   */
  attack: (target: FloodTarget, ms: number) => Promise<Record<string, number | string>>
}

/** The credentials every flood's broker has: the demo's roles, a bystander and monitoring. */
export const FEED = { user: 'feed', pass: 'feed-secret' }
export const SERVICE = { user: 'service', pass: 'service-secret' }
export const WATCHER = { user: 'watcher', pass: 'watcher-secret' }
export const MONITORING = { user: 'ops', pass: 'ops-secret' }

export interface FloodAuthorization {
  authorization: AuthorizationConfig
  monitoring: { user: string, password: string }
}

export function floodAuthorization (): FloodAuthorization {
  return {
    authorization: {
      users: [
        // bcrypt at cost 10, as `npm run passwd` makes: a wrong guess costs the broker a real check.
        { user: FEED.user, password: bcrypt.hashSync(FEED.pass, 10), permissions: { publish: ['quote.>', 'trade.>'], subscribe: [] } },
        { user: SERVICE.user, password: SERVICE.pass, permissions: { publish: [], subscribe: ['price.>'], allow_responses: true } },
        { user: WATCHER.user, password: WATCHER.pass, permissions: { publish: ['watch.>'], subscribe: ['watch.>', '_INBOX.>'] } },
        { user: 'viewer', password: 'viewer-unused', permissions: { publish: ['price.>', '_INBOX.>'], subscribe: { allow: ['>'], deny: ['secret.>'] } } }
      ],
      no_auth_user: 'viewer'
    },
    monitoring: { user: MONITORING.user, password: bcrypt.hashSync(MONITORING.pass, 10) }
  }
}

function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A raw socket that has sent `connect` and never reads: what the broker writes to it piles up. */
async function neverReading (port: number, connectLine = 'CONNECT {"verbose":false,"pedantic":false}\r\n'): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.pause()
  socket.write(connectLine)
  return socket
}

/** Writes `chunk` over and over while the kernel takes it, for `ms`; returns the bytes written. */
async function pour (socket: net.Socket, chunk: Buffer, ms: number): Promise<number> {
  let written = 0
  const end = Date.now() + ms
  while (Date.now() < end && !socket.destroyed) {
    if (socket.writableLength < 256 * 1024) {
      socket.write(chunk)
      written += chunk.length
    } else {
      await delay(5)
    }
    if (written % (chunk.length * 16) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  return written
}

async function asUser (target: FloodTarget, who: { user: string, pass: string }): Promise<NatsConnection> {
  return await connect({ servers: target.natsUrl, reconnect: false, ...who })
}

const BOTH = ['tickfan', 'nats-server'] as const

export const FLOODS: readonly Flood[] = [
  {
    name: 'subscribe-unsubscribe',
    what: '20,000 cached quote subjects; a viewer that never reads writes `SUB quote.> i` / `UNSUB i` pairs, 8 KiB at a time, as fast as the broker reads them',
    review: 'high 3: each SUB copied the whole cache synchronously (13.3 s stall, +931 MiB)',
    targets: BOTH,
    setup: async (target) => {
      const feed = await asUser(target, FEED)
      const payload = new Uint8Array(100).fill(120)
      for (let i = 0; i < 20_000; i++) {
        feed.publish(`quote.flood.S${i}`, payload)
        if (i % 1000 === 999) await feed.flush()
      }
      await feed.flush()
      await feed.close()
    },
    attack: async (target, ms) => {
      const socket = await neverReading(target.port)
      let pairs = ''
      for (let i = 1; i <= 300; i++) pairs += `SUB quote.> ${i}\r\nUNSUB ${i}\r\n`
      const written = await pour(socket, Buffer.from(pairs), ms)
      const closed = socket.destroyed || socket.readableEnded
      socket.destroy()
      return { 'attacker bytes written': written, 'attacker cut off': closed ? 'yes' : 'no' }
    }
  },
  {
    name: 'ping-flood',
    what: 'a viewer that never reads sends PINGs as fast as the broker reads them (its PONGs pile up)',
    review: 'medium 4: PONGs sat outside every byte bound (RSS to 1 GiB, others\' p99 707 ms)',
    targets: BOTH,
    attack: async (target, ms) => {
      const socket = await neverReading(target.port)
      const written = await pour(socket, Buffer.from('PING\r\n'.repeat(1365)), ms)
      socket.destroy()
      return { 'PINGs sent': Math.round(written / 6) }
    }
  },
  {
    name: 'dripped-payloads',
    what: '50 viewers each announce a 1 MiB publish and drip its payload 1 KiB every 20 ms',
    review: 'medium 4: every dripped chunk was kept as its own Buffer (288 B of memory per byte)',
    targets: BOTH,
    attack: async (target, ms) => {
      const sockets = await Promise.all(Array.from({ length: 50 }, async () => await neverReading(target.port,
        'CONNECT {"verbose":false,"pedantic":false}\r\nPUB price.drip 1048576\r\n')))
      const kib = Buffer.alloc(1024, 120)
      let dripped = 0
      const end = Date.now() + ms
      while (Date.now() < end) {
        for (const s of sockets) if (!s.destroyed) { s.write(kib); dripped += kib.length }
        await delay(20)
      }
      for (const s of sockets) s.destroy()
      return { 'bytes dripped': dripped }
    }
  },
  {
    name: 'wrong-passwords',
    what: 'three bursts of 40 CONNECTs as the feed user with a wrong password (bcrypt cost 10), one a second',
    review: 'medium 5: bcrypt ran on the delivering loop (gaps of 1.2-4.0 s)',
    targets: BOTH,
    attack: async (target, ms) => {
      const answers: Record<string, number> = {}
      const bursts = Math.max(1, Math.min(3, Math.floor(ms / 1000)))
      const pending: Array<Promise<void>> = []
      for (let b = 0; b < bursts; b++) {
        for (let i = 0; i < 40; i++) {
          pending.push((async () => {
            const socket = net.connect(target.port, '127.0.0.1')
            socket.on('error', () => {})
            let text = ''
            socket.on('data', (d: Buffer) => { text += d.toString('latin1') })
            socket.write(`CONNECT ${JSON.stringify({ verbose: false, user: FEED.user, pass: `guess-${b}-${i}` })}\r\nPING\r\n`)
            await new Promise((resolve) => { socket.once('close', resolve); setTimeout(resolve, ms + 5000) })
            const answer = /-ERR '([^']*)'/.exec(text)?.[1] ?? (text.includes('PONG') ? 'PONG (let in!)' : 'closed without an answer')
            answers[answer] = (answers[answer] ?? 0) + 1
            socket.destroy()
          })())
        }
        await delay(1000)
      }
      await Promise.all(pending)
      return { 'logins tried': bursts * 40, ...Object.fromEntries(Object.entries(answers).map(([k, v]) => [`answered ${k}`, v])) }
    }
  },
  {
    name: 'monitoring-logins',
    what: 'three bursts of 40 requests to /varz with wrong HTTP basic credentials (bcrypt cost 10), one a second',
    review: 'medium 5: wrong monitoring logins gave 2.1-4.4 s gaps (nats-server\'s monitoring has no logins)',
    targets: ['tickfan'],
    attack: async (target, ms) => {
      const bursts = Math.max(1, Math.min(3, Math.floor(ms / 1000)))
      const statuses: number[] = []
      const pending: Array<Promise<void>> = []
      for (let b = 0; b < bursts; b++) {
        for (let i = 0; i < 40; i++) {
          const auth = Buffer.from(`${MONITORING.user}:guess-${b}-${i}`).toString('base64')
          pending.push(fetch(`http://127.0.0.1:${target.httpPort}/varz`, { headers: { authorization: `Basic ${auth}` } })
            .then(async (r) => { statuses.push(r.status); await r.arrayBuffer() }, () => { statuses.push(0) }))
        }
        await delay(1000)
      }
      await Promise.all(pending)
      return { 'requests refused (401 or 429)': statuses.filter((s) => s === 401 || s === 429).length, 'requests sent': bursts * 40 }
    }
  },
  {
    name: 'request-flood',
    what: 'a viewer sends 60,000 price requests, each with its own reply subject, to a service allowed to answer; a real client asks 50 times meanwhile',
    review: 'medium 6: the flood evicted real answers\' grants (50 of 50 requests timed out in 2 of 4 runs)',
    targets: BOTH,
    attack: async (target, ms) => {
      const service = await asUser(target, SERVICE)
      service.subscribe('price.>', { callback: (_e, m) => { m.respond('1') } })
      await service.flush()
      const attacker = await connect({ servers: target.natsUrl, reconnect: false })
      const requester = await connect({ servers: target.natsUrl, reconnect: false })
      const asks = (async () => {
        let answered = 0
        for (let i = 0; i < 50; i++) {
          try { await requester.request('price.BTC-USD', '', { timeout: 2000 }); answered++ } catch { /* timed out */ }
          await delay(Math.max(10, ms / 60))
        }
        return answered
      })()
      const end = Date.now() + ms
      let sent = 0
      while (sent < 60_000 && Date.now() < end) {
        for (let i = 0; i < 500; i++) attacker.publish('price.BTC-USD', '', { reply: `_INBOX.flood.${sent++}` })
        await attacker.flush()
      }
      const answered = await asks
      await Promise.all([service.close(), attacker.close(), requester.close()])
      return { 'flood requests sent': sent, 'real requests answered (of 50)': answered }
    }
  },
  {
    name: 'cache-bytes',
    what: 'the feed publishes 800 quote subjects of 1 MiB each (tickfan run with --max-last-value-bytes 32 MiB)',
    review: 'medium 4: the cache was bounded by subjects only (+825 MiB for 800 subjects of 1 MiB)',
    targets: ['tickfan'],
    tickfanArgs: ['--max-last-value-bytes', String(32 * 1024 * 1024)],
    heldBytes: 32 * 1024 * 1024,
    // All 800, however long it takes (the memory bound must hold for the whole flood, not for
    // what fits in the flood's duration).
    attack: async (target) => {
      const feed = await asUser(target, FEED)
      const payload = new Uint8Array(1024 * 1024 - 1024).fill(120)
      const start = performance.now()
      let published = 0
      for (; published < 800; published++) {
        feed.publish(`quote.big.S${published}`, payload)
        if (published % 8 === 7) await feed.flush()
      }
      await feed.flush()
      const ms = Math.round(performance.now() - start)
      await feed.close()
      return { 'quotes of 1 MiB published': published, 'in ms': ms }
    }
  }
]
