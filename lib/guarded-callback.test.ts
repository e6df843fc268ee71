import type { Msg } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { failureReason, guardedCallback } from './guarded-callback.ts'

describe('guardedCallback', () => {
  const msg = { subject: 'a.b' } as unknown as Msg

  it('hands a message to the handler, and what it throws to onFailure, never to the caller', () => {
    const seen: string[] = []
    const callback = guardedCallback((m) => {
      seen.push(m.subject)
      throw new Error('bad header')
    }, (m, err) => seen.push(`${m.subject} failed: ${failureReason(err)}`))
    expect(() => callback(null, msg)).not.toThrow()
    expect(seen).toEqual(['a.b', 'a.b failed: bad header'])
  })

  it('leaves out the errors the client reports instead of a message', () => {
    const seen: string[] = []
    guardedCallback(() => seen.push('handled'), () => seen.push('failed'))(new Error('permissions'), msg)
    expect(seen).toEqual([])
  })

  it('says what was thrown when it is not an Error', () => {
    expect(failureReason('text')).toBe('text')
    expect(failureReason(new TypeError('x is undefined'))).toBe('x is undefined')
  })
})
