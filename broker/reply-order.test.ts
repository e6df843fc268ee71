import { describe, expect, it } from 'vitest'
import { ReplyOrder } from './reply-order.ts'

/** Interest acknowledged by the other workers up to `settled`; waiters run when it moves. */
class FakeHost {
  interestSeq = 0
  settled = 0
  private waiters: Array<{ seq: number, run: () => void }> = []
  interestSettled (seq: number): boolean { return seq <= this.settled }
  whenInterestSettled (seq: number, run: () => void): void {
    if (this.interestSettled(seq)) run()
    else this.waiters.push({ seq, run })
  }

  settle (seq: number): void {
    this.settled = seq
    const ready = this.waiters.filter((w) => w.seq <= seq)
    this.waiters = this.waiters.filter((w) => w.seq > seq)
    for (const w of ready) w.run()
  }
}

describe('ReplyOrder', () => {
  it('sends at once while nothing waits', () => {
    const host = new FakeHost()
    const sent: string[] = []
    const order = new ReplyOrder(host, (l) => { sent.push(l.toString()); return true }, Buffer.from('PONG'))
    order.reply(Buffer.from('+OK'))
    order.ping()
    expect(sent).toEqual(['+OK', 'PONG'])
  })

  it('holds a PONG until its SUBs are in force everywhere, and every reply behind it, in order', () => {
    const host = new FakeHost()
    const sent: string[] = []
    const order = new ReplyOrder(host, (l) => { sent.push(l.toString()); return true }, Buffer.from('PONG'))
    host.interestSeq = 1
    order.interestChanged() // SUB
    order.ping() // waits for sequence 1
    order.reply(Buffer.from('+OK a'))
    host.interestSeq = 2
    order.interestChanged()
    order.ping() // waits for 2
    order.reply(Buffer.from('+OK b'))
    expect(sent).toEqual([])
    host.settle(1)
    expect(sent).toEqual(['PONG', '+OK a'])
    host.settle(2)
    expect(sent).toEqual(['PONG', '+OK a', 'PONG', '+OK b'])
    order.reply(Buffer.from('+OK c'))
    expect(sent.at(-1)).toBe('+OK c')
  })

  it('runs a close after every reply held before it, and at once when none waits', () => {
    const host = new FakeHost()
    const sent: string[] = []
    const order = new ReplyOrder(host, (l) => { sent.push(l.toString()); return true }, Buffer.from('PONG'))
    order.afterReplies(() => sent.push('closed'))
    expect(sent).toEqual(['closed'])
    host.interestSeq = 1
    order.interestChanged()
    order.ping()
    order.reply(Buffer.from('+OK'))
    order.afterReplies(() => sent.push('closed'))
    expect(sent).toEqual(['closed'])
    host.settle(1)
    expect(sent).toEqual(['closed', 'PONG', '+OK', 'closed'])
  })

  it('stops once the connection has closed', () => {
    const host = new FakeHost()
    const sent: string[] = []
    const order = new ReplyOrder(host, (l) => { sent.push(l.toString()); return false }, Buffer.from('PONG'))
    host.interestSeq = 1
    order.interestChanged()
    order.ping()
    order.reply(Buffer.from('+OK'))
    host.settle(1)
    expect(sent).toEqual(['PONG'])
  })
})
