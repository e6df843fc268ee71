import { describe, expect, it } from 'vitest'
import { PendingLinks } from './pending-links.ts'

describe('PendingLinks', () => {
  it('answers each ask of a worker with one of its linked messages, in turn', async () => {
    const links = new PendingLinks<string>()
    const settled: string[] = []
    const first = links.ask('w0').then(() => settled.push('first'))
    const second = links.ask('w0').then(() => settled.push('second'))
    const other = links.ask('w1').then(() => settled.push('other'))
    links.linked('w0')
    await first
    expect(settled).toEqual(['first'])
    links.linked('w1')
    links.linked('w0')
    await Promise.all([second, other])
    expect(settled.sort()).toEqual(['first', 'other', 'second'])
  })

  it('fails every link a worker owes when it exits, and no other worker\'s', async () => {
    const links = new PendingLinks<string>()
    const owed = [links.ask('w0'), links.ask('w0')]
    const other = links.ask('w1')
    links.exited('w0', 'worker 0 exited while linking (code 1, signal null)')
    for (const link of owed) await expect(link).rejects.toThrow('worker 0 exited while linking (code 1, signal null)')
    links.linked('w1')
    await expect(other).resolves.toBeUndefined()
  })

  it('ignores a linked message nobody asked for, and an exit that owes nothing', async () => {
    const links = new PendingLinks<string>()
    links.linked('w0')
    links.exited('w1', 'gone')
    const later = links.ask('w0')
    links.linked('w0')
    await expect(later).resolves.toBeUndefined()
  })
})
