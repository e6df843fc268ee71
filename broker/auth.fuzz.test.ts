/**
 * The permission layer fuzzed against a model: random allow/deny lists and response grants,
 * random requests received and publishes tried. Whatever the sequence, a publish is allowed
 * exactly when the model says so, and a response grant never writes a protected (last-value or
 * event) subject.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConnectionRights, Permissions } from './auth.ts'
import { subjectMatches } from './subjects.ts'

const LITERALS = ['quote.a.BTC', 'quote.b.ETH', 'trade.a.BTC', 'price.BTC', 'svc.ask', '_INBOX.1', '_INBOX.2', 'secret.x']
const PATTERNS = [...LITERALS, 'quote.>', 'quote.*.BTC', 'trade.>', '_INBOX.>', '*.BTC', 'svc.*', '>']
const isProtected = (s: string): boolean => s.startsWith('quote.') || s.startsWith('trade.')

const op = fc.oneof(
  fc.record({ kind: fc.constant('request' as const), subject: fc.constantFrom(...LITERALS), reply: fc.constantFrom(...LITERALS) }),
  fc.record({ kind: fc.constant('publish' as const), subject: fc.constantFrom(...LITERALS), reply: fc.option(fc.constantFrom(...LITERALS), { nil: undefined }) })
)

describe('permissions fuzzed against a model', () => {
  it('allows a publish exactly when its rights or a live grant allow it, and never writes a protected subject by grant', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom(...PATTERNS), { maxLength: 3 }),
      fc.array(fc.constantFrom(...PATTERNS), { maxLength: 3 }),
      fc.array(fc.constantFrom(...PATTERNS), { maxLength: 2 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(op, { maxLength: 40 }),
      (allow, deny, subDeny, max, ops) => {
        const permissions = new Permissions({ publish: { allow, deny }, subscribe: { deny: subDeny }, allow_responses: { max } }, 'fuzz')
        const rights = new ConnectionRights('u', permissions, { isProtectedSubject: isProtected })
        const matches = (patterns: readonly string[], s: string): boolean => patterns.some((p) => subjectMatches(p, s))
        const mayPublish = (s: string): boolean => matches(allow, s) && !matches(deny, s)
        const grants = new Map<string, number>() // the model: replies left per reply subject
        let now = 0
        for (const o of ops) {
          now++
          if (o.kind === 'request') {
            const receives = !subDeny.some((p) => subjectMatches(p, o.subject))
            expect(rights.receives({ subject: o.subject, reply: o.reply, publisherCid: -1 }, () => now)).toBe(receives)
            if (receives) grants.set(o.reply, max)
            continue
          }
          const byRight = mayPublish(o.subject)
          const left = grants.get(o.subject) ?? 0
          const byGrant = !byRight && left > 0 && !isProtected(o.subject)
          const replyRefused = o.reply !== undefined && isProtected(o.reply) && !mayPublish(o.reply)
          const expected = !byRight && !byGrant ? 'PERMISSIONS_PUBLISH' : replyRefused ? 'PERMISSIONS_REPLY' : null
          const got = rights.publishRefusal(o.subject, o.reply, () => now)
          expect(got).toBe(expected)
          if (byGrant) {
            if (left <= 1) grants.delete(o.subject)
            else grants.set(o.subject, left - 1)
          }
          if (got === null && isProtected(o.subject)) expect(byRight).toBe(true)
        }
      }
    ), { numRuns: 500 })
  })
})
