/**
 * The floor relay (bench/floor/broker/main.ts) must relay what max-throughput sends exactly, or
 * the rates measured with it bound nothing: the official client on wildcard and literal
 * subjects, PUBs cut at every offset across socket writes, a reply subject, UNSUB, and the
 * same with every message kept.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, type NatsConnection } from 'nats'
import { freePorts, waitForPort } from '../../lib/ports.ts'
import { runCommand, type CommandProcess } from '../../broker/test-support/processes.ts'

let floor: CommandProcess | null = null
let nc: NatsConnection | null = null

afterEach(async () => {
  await nc?.close()
  nc = null
  await floor?.stop('SIGTERM')
  floor = null
})

async function startFloor (args: string[] = []): Promise<number> {
  const [port, httpPort] = await freePorts(2)
  floor = runCommand('bench/floor/broker/main.ts', ['--port', String(port), `--http-port=${httpPort}`, '--workers', '1', ...args])
  await waitForPort(port)
  return port
}

/**
 * Writes each piece as its own socket write, a moment apart, then PING: resolves at the PONG,
 * when the floor has read every piece and queued what they deliver.
 */
async function writeInPieces (port: number, pieces: string[]): Promise<void> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
  const waitFor = async (text: string): Promise<void> => await new Promise((resolve) => {
    const check = (): void => { if (received.includes(text)) { socket.off('data', check); resolve() } }
    socket.on('data', check)
    check()
  })
  await waitFor('INFO ')
  for (const piece of pieces) {
    socket.write(piece)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  socket.write('PING\r\n')
  await waitFor('PONG\r\n')
  socket.destroy()
}

describe.each([[[]], [['--keep-trades', '--keep-bytes', '200000']], [['--keep-trades', '--keep-bytes', '200000', '--keep-preallocate']]])('the floor relay %j', (args: string[]) => {
  it('relays every message to wildcard and literal subscribers, byte for byte and in order', async () => {
    const port = await startFloor(args)
    nc = await connect({ port })
    const wildcard: string[] = []
    const literal: string[] = []
    nc.subscribe('trade.bench.>', { callback: (_e, m) => wildcard.push(`${m.subject} ${m.string()}`) })
    nc.subscribe('trade.bench.S1', { callback: (_e, m) => literal.push(m.string()) })
    await nc.flush()
    const sent: string[] = []
    for (let i = 0; i < 3000; i++) {
      const payload = `${i}:${'x'.repeat(i % 300)}`
      nc.publish(`trade.bench.S${i % 3}`, payload)
      sent.push(`trade.bench.S${i % 3} ${payload}`)
    }
    await nc.flush() // the PONG is written after every delivery its PING followed
    expect(wildcard).toEqual(sent)
    expect(literal).toEqual(sent.filter((s) => s.startsWith('trade.bench.S1 ')).map((s) => s.slice('trade.bench.S1 '.length)))
  })

  it('joins a PUB cut at every offset across reads, with a reply subject and an empty payload', async () => {
    const port = await startFloor(args)
    nc = await connect({ port })
    const got: Array<[string, string, string]> = [] // '': no reply
    nc.subscribe('trade.>', { callback: (_e, m) => got.push([m.subject, m.reply ?? '', m.string()]) })
    await nc.flush()
    const text = 'PUB trade.a inbox.1 5\r\nhello\r\nPUB trade.b 0\r\n\r\n'
    const cuts = Array.from({ length: text.length - 1 }, (_, i) => [text.slice(0, i + 1), text.slice(i + 1)])
    for (const pieces of cuts) await writeInPieces(port, pieces)
    await nc.flush()
    expect(got.length).toBe(cuts.length * 2)
    for (let i = 0; i < got.length; i += 2) {
      expect(got[i]).toEqual(['trade.a', 'inbox.1', 'hello'])
      expect(got[i + 1]).toEqual(['trade.b', '', ''])
    }
  })

  it('stops delivering after UNSUB', async () => {
    const port = await startFloor(args)
    nc = await connect({ port })
    let count = 0
    const sub = nc.subscribe('trade.x', { callback: () => { count++ } })
    nc.publish('trade.x', 'one')
    await nc.flush()
    sub.unsubscribe()
    nc.publish('trade.x', 'two')
    await nc.flush()
    expect(count).toBe(1)
  })
})
