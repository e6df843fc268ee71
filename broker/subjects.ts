/**
 * Subject syntax, as nats-server validates it: tokens split by `.`, none empty, no white space;
 * `*` matches exactly one token and `>` one or more trailing tokens (and must be last). A
 * wildcard counts only as a whole token: `foo*` is a literal.
 *
 * Subjects are handled as latin1 strings throughout the broker (one char per byte), so any
 * UTF-8 subject round-trips byte for byte onto the wire.
 */

const DOT = 46
const STAR = 42
const GT = 62

function hasWhitespace (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11) return true
  }
  return false
}

/** A subject valid for SUB: wildcards allowed, `>` only as the last token. */
export function isValidSubject (subject: string): boolean {
  if (subject.length === 0 || hasWhitespace(subject)) return false
  let tokenStart = 0
  for (let i = 0; i <= subject.length; i++) {
    if (i === subject.length || subject.charCodeAt(i) === DOT) {
      const len = i - tokenStart
      if (len === 0) return false
      if (len === 1 && subject.charCodeAt(tokenStart) === GT && i !== subject.length) return false
      tokenStart = i + 1
    }
  }
  return true
}

/**
 * A subject valid for PUB: no empty tokens, no wildcard tokens, no white space, in one pass. The
 * broker routes no publish to another subject, pedantic client or not (the router checks each
 * subject once and keeps the answer: SubjectFacts).
 */
export function isValidLiteralSubject (subject: string): boolean {
  const length = subject.length
  if (length === 0) return false
  let tokenStart = 0
  for (let i = 0; i < length; i++) {
    const c = subject.charCodeAt(i)
    if (c === DOT) {
      if (i === tokenStart || (i - tokenStart === 1 && isWildcard(subject.charCodeAt(tokenStart)))) return false
      tokenStart = i + 1
    } else if (c <= 32 && (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11)) {
      return false
    }
  }
  return !(tokenStart === length || (length - tokenStart === 1 && isWildcard(subject.charCodeAt(tokenStart))))
}

function isWildcard (c: number): boolean {
  return c === STAR || c === GT
}

export function hasWildcardToken (subject: string): boolean {
  let tokenStart = 0
  for (let i = 0; i <= subject.length; i++) {
    if (i === subject.length || subject.charCodeAt(i) === DOT) {
      if (i - tokenStart === 1) {
        const c = subject.charCodeAt(tokenStart)
        if (c === STAR || c === GT) return true
      }
      tokenStart = i + 1
    }
  }
  return false
}

/** Queue group names are a single token without white space. */
export function isValidQueueName (queue: string): boolean {
  return queue.length > 0 && !hasWhitespace(queue)
}

/**
 * Does a subscription pattern match a literal subject? The straightforward token walk: used
 * to scan the last-value cache for a snapshot, and as the oracle the trie is tested against.
 */
export function subjectMatches (pattern: string, subject: string): boolean {
  // Token by token on indices, nothing allocated: it runs over every cached subject when a
  // wildcard snapshot is computed, and in permission checks.
  const pl = pattern.length
  const sl = subject.length
  let pi = 0
  let si = 0
  for (;;) {
    if (si > sl) return false // no subject token left for this pattern token
    let pe = pattern.indexOf('.', pi)
    if (pe === -1) pe = pl
    let se = subject.indexOf('.', si)
    if (se === -1) se = sl
    const length = pe - pi
    const first = pattern.charCodeAt(pi)
    if (length === 1 && first === GT) return true
    if (length !== 1 || first !== STAR) {
      if (se - si !== length) return false
      for (let k = 0; k < length; k++) if (pattern.charCodeAt(pi + k) !== subject.charCodeAt(si + k)) return false
    }
    pi = pe + 1
    si = se + 1
    if (pi > pl) return si > sl // the pattern has ended: so must the subject
  }
}

/**
 * Does every subject `subject` can match also match `pattern`? A subscription to `quote.*.BTC`
 * is within `quote.>`; `quote.>` is not within `quote.*`.
 */
export function isSubsetMatch (subject: string, pattern: string): boolean {
  const s = subject.split('.')
  const p = pattern.split('.')
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]
    if (pt === '>') return s.length > i
    if (i >= s.length) return false
    const st = s[i]
    if (st === '>') return false
    if (pt === '*') continue
    if (st === '*' || st !== pt) return false
  }
  return p.length === s.length
}
