import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mergeConnz, mergeConnzKeys, mergeSums } from './cluster-monitor.ts'
import { cut } from './fuzz-properties.ts'
import { encodeInterestAckFrame, encodeInterestFrame, encodeMessageFrame, FrameReader, type MeshFrame } from './worker-mesh.ts'

describe('mesh frames', () => {
  it('come back as sent, whatever offsets the stream is split at', () => {
    const frame = fc.oneof(
      fc.record({
        type: fc.constant('msg' as const),
        subject: fc.stringMatching(/^[a-z.]{1,20}$/),
        reply: fc.option(fc.stringMatching(/^[A-Z_.]{1,12}$/), { nil: undefined }),
        headerBytes: fc.nat({ max: 40 }),
        data: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        queues: fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { maxLength: 3 })
      }),
      fc.record({ type: fc.constant('interest' as const), subject: fc.stringMatching(/^[a-z.>*]{1,20}$/), queue: fc.stringMatching(/^[a-z]{0,8}$/), delta: fc.integer({ min: -5, max: 5 }), seq: fc.nat() }),
      fc.record({ type: fc.constant('interest-ack' as const), seq: fc.nat() })
    )
    fc.assert(fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, at) => {
      const bytes = Buffer.concat(frames.map((f) => f.type === 'msg'
        ? encodeMessageFrame(f.subject, f.reply, f.data, f.headerBytes, f.queues)
        : f.type === 'interest' ? encodeInterestFrame(f.subject, f.queue, f.delta, f.seq) : encodeInterestAckFrame(f.seq)))
      const got: MeshFrame[] = []
      const reader = new FrameReader()
      for (const chunk of cut(bytes, at)) reader.push(chunk, (f) => got.push(f.type === 'msg' ? { ...f, data: Buffer.from(f.data) } : f))
      expect(got).toEqual(frames)
    }))
  })

  it('carry subjects past 65,535 bytes and more than 255 queue groups', () => {
    // Lengths were u16 (a longer subject threw and took the worker down) and the group count a
    // u8 (256 groups came through as none, 300 as 44).
    const subject = `long.${'a'.repeat(70_000)}`
    const reply = `_INBOX.${'r'.repeat(66_000)}`
    const queues = Array.from({ length: 300 }, (_, i) => `g${i}`)
    const got: MeshFrame[] = []
    const reader = new FrameReader()
    reader.push(Buffer.concat([
      encodeMessageFrame(subject, reply, Buffer.from('x'), 0, queues),
      encodeInterestFrame(subject, 'q'.repeat(65_536), 1, 7)
    ]), (f) => got.push(f.type === 'msg' ? { ...f, data: Buffer.from(f.data) } : f))
    expect(got).toEqual([
      { type: 'msg', subject, reply, headerBytes: 0, data: Buffer.from('x'), queues },
      { type: 'interest', subject, queue: 'q'.repeat(65_536), delta: 1, seq: 7 }
    ])
  })
})

describe('monitoring across workers', () => {
  it('adds counts, keeps settings, takes the worst event-loop delay, and merges maps', () => {
    const merged = mergeSums([
      {
        connections: 2,
        in_msgs: 10,
        max_payload: 1024,
        tickfan: { event_loop_delay_p99_ms: 3, protocol_errors: { A: 1 } }
      },
      {
        connections: 3,
        in_msgs: 5,
        max_payload: 1024,
        tickfan: { event_loop_delay_p99_ms: 7, protocol_errors: { A: 2, B: 1 } }
      }
    ])
    expect(merged).toEqual({
      connections: 5,
      in_msgs: 15,
      max_payload: 1024,
      tickfan: { event_loop_delay_p99_ms: 7, protocol_errors: { A: 3, B: 1 } }
    })
  })

  it('pages from the workers\' sort keys as from their records', () => {
    const worker = fc.array(fc.record({ pending_bytes: fc.nat({ max: 5 }) }), { maxLength: 20 })
    const workers = fc.array(worker, { minLength: 1, maxLength: 4 })
    fc.assert(fc.property(workers, fc.nat({ max: 30 }), fc.nat({ max: 30 }), (lists, offset, limit) => {
      // Distinct cids; each worker lists its connections in its own order (by key: monitor.ts).
      let cid = 0
      const docs = lists.map((conns) => ({
        connections: conns.map((c) => ({ ...c, cid: ++cid })).sort((a, b) => b.pending_bytes - a.pending_bytes)
      }))
      const records = mergeConnz(docs, { sort: 'pending', offset, limit, serverId: 'X' })
      const keys = mergeConnzKeys(docs.map((d) => ({
        total: d.connections.length,
        keys: d.connections.flatMap((c) => [-c.pending_bytes, c.cid])
      })), { offset, limit })
      expect(keys.total).toBe(records.total)
      const paged = records.connections as Array<{ cid: number, worker: number }>
      expect(keys.page).toEqual(paged.map((c) => ({ worker: c.worker, cid: c.cid })))
    }))
  })

  it('merges connections from every worker, sorted, then pages', () => {
    const page = mergeConnz([{ connections: [{ cid: 1, pending_bytes: 5 }, { cid: 4, pending_bytes: 0 }] }, { connections: [{ cid: 2, pending_bytes: 9 }] }], { sort: 'pending', offset: 0, limit: 2, serverId: 'X' })
    expect(page.total).toBe(3)
    expect((page.connections as Array<{
      cid: number,
      worker: number
    }>).map((c) => [c.cid, c.worker])).toEqual([[2, 1], [1, 0]])
  })
})
