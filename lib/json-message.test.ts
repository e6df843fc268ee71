import { describe, expect, it } from 'vitest'
import { fieldProblem, parseJson, parseMessage } from './json-message.ts'

describe('parseJson and fieldProblem', () => {
  it('parses JSON bytes, and says when they are not', () => {
    expect(parseJson(new TextEncoder().encode('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } })
    expect(parseJson(new TextEncoder().encode('{"a":'))).toEqual({ ok: false, reason: 'not JSON' })
  })

  it('names the first field missing or of another type, nested fields included', () => {
    const fields = { name: 'string', n: 'number', 'inner.p99': 'number', inner: 'object' } as const
    expect(fieldProblem({ name: 'x', n: 1, inner: { p99: 2 } }, fields)).toBeNull()
    expect(fieldProblem({ name: 1, n: 1, inner: { p99: 2 } }, fields)).toBe('field name is not a string')
    expect(fieldProblem({ name: 'x', n: Infinity, inner: { p99: 2 } }, fields)).toBe('field n is not a number')
    expect(fieldProblem({ name: 'x', n: 1, inner: null }, fields)).toBe('field inner.p99 is not a number')
    expect(fieldProblem({ name: 'x', n: 1, inner: 5 }, { inner: 'object' })).toBe('field inner is not an object')
    expect(fieldProblem([], fields)).toBe('field name is not a string')
    expect(fieldProblem(null, fields)).toBe('not an object')
  })
})

describe('parseMessage', () => {
  it('gives the message when its fields are there, else the first reason', () => {
    const bytes = (t: string): Uint8Array => new TextEncoder().encode(t)
    expect(parseMessage<{ a: number }>(bytes('{"a":1,"b":2}'), { a: 'number' })).toEqual({ ok: true, value: { a: 1, b: 2 } })
    expect(parseMessage(bytes('{"a":"1"}'), { a: 'number' })).toEqual({ ok: false, reason: 'field a is not a number' })
    expect(parseMessage(bytes('{'), { a: 'number' })).toEqual({ ok: false, reason: 'not JSON' })
  })
})
