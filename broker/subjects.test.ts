import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hasWildcardToken, isValidLiteralSubject, isValidSubject, subjectMatches } from './subjects.ts'

describe('subject syntax (as nats-server validates it)', () => {
  it.each(['foo', 'foo.bar', 'foo.*', 'foo.>', '*', '>', 'foo.*.bar', 'foo*', 'foo.b>r', 'quote.binance.BTC-USD'])('accepts %j for SUB', (s) => {
    expect(isValidSubject(s)).toBe(true)
  })

  it.each(['', '.', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.foo', 'foo bar', 'foo\tbar', 'a.\nb'])('rejects %j', (s) => {
    expect(isValidSubject(s)).toBe(false)
  })

  it('treats wildcards as wildcards only when they are whole tokens', () => {
    expect(hasWildcardToken('foo*')).toBe(false)
    expect(hasWildcardToken('foo.*')).toBe(true)
    expect(hasWildcardToken('a.>')).toBe(true)
    expect(isValidLiteralSubject('foo.*')).toBe(false)
    expect(isValidLiteralSubject('foo*.bar')).toBe(true)
  })

  it.each(['', '.', 'foo.', '.foo', 'foo..bar', 'foo.*', 'foo.>', '*', '>', '*.foo', 'foo bar'])('refuses %j for PUB', (s) => {
    expect(isValidLiteralSubject(s)).toBe(false)
  })

  it('checks a PUB subject in one pass exactly as "a valid subject with no wildcard token" (property)', () => {
    const subject = fc.array(fc.constantFrom('a', 'b', '.', '*', '>', ' ', '\t', 'x*'), { maxLength: 12 })
      .map((parts) => parts.join(''))
    const asTwoChecks = (s: string): boolean => isValidSubject(s) && !hasWildcardToken(s)
    fc.assert(fc.property(subject, (s) => isValidLiteralSubject(s) === asTwoChecks(s)), { numRuns: 5000 })
  })

  it('matches exactly as splitting both into tokens would (property)', () => {
    const bySplitting = (pattern: string, subject: string): boolean => {
      const p = pattern.split('.')
      const s = subject.split('.')
      for (let i = 0; i < p.length; i++) {
        if (p[i] === '>') return s.length > i
        if (i >= s.length) return false
        if (p[i] !== '*' && p[i] !== s[i]) return false
      }
      return p.length === s.length
    }
    const token = fc.constantFrom('a', 'b', 'ab', '*', '>', '')
    const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'))
    fc.assert(fc.property(subject, subject, (p, s) => subjectMatches(p, s) === bySplitting(p, s)), { numRuns: 20000 })
  })

  it('matches * to exactly one token and > to one or more trailing tokens', () => {
    expect(subjectMatches('a.*', 'a.b')).toBe(true)
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false)
    expect(subjectMatches('a.*', 'a')).toBe(false)
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true)
    expect(subjectMatches('a.>', 'a')).toBe(false)
    expect(subjectMatches('>', 'a')).toBe(true)
    expect(subjectMatches('*.b', 'a.b')).toBe(true)
    expect(subjectMatches('a.b', 'a.b')).toBe(true)
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false)
  })
})
