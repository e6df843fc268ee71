/**
 * The interest graph: which subscriptions match a published subject. A trie of subject tokens
 * with `*` and `>` branches at every level, as nats-server's sublist.go, plus a match cache keyed
 * by subject that is dropped whenever interest changes (a generation counter), so a steady
 * stream of publishes to the same subjects costs one Map lookup each.
 */

export interface Interest {
  readonly subject: string
  readonly queue: string | undefined
}

/** What a publish reaches: every plain subscriber, and per queue group its members (pick one). */
export interface MatchResult<S extends Interest> {
  readonly plain: readonly S[]
  readonly groups: readonly (readonly S[])[]
}

interface TrieNode<S> {
  next: TrieLevel<S> | null
  plain: Set<S>
  groups: Map<string, Set<S>>
}

interface TrieLevel<S> {
  literal: Map<string, TrieNode<S>>
  star: TrieNode<S> | null
  tail: TrieNode<S> | null
}

function newLevel<S> (): TrieLevel<S> {
  return { literal: new Map(), star: null, tail: null }
}

function newNode<S> (): TrieNode<S> {
  return { next: null, plain: new Set(), groups: new Map() }
}

function isEmptyNode<S> (node: TrieNode<S>): boolean {
  return node.plain.size === 0 && node.groups.size === 0 &&
    (node.next === null || isEmptyLevel(node.next))
}

function isEmptyLevel<S> (level: TrieLevel<S>): boolean {
  return level.literal.size === 0 && level.star === null && level.tail === null
}

export interface SubjectTrieOptions {
  /** Subjects whose match results are kept; past this the cache is cleared. Default 16384. */
  maxCachedSubjects?: number
}

const EMPTY_RESULT: MatchResult<never> = Object.freeze({ plain: Object.freeze([]), groups: Object.freeze([]) })

export class SubjectTrie<S extends Interest> {
  private readonly root: TrieLevel<S> = newLevel()
  private readonly cache = new Map<string, MatchResult<S>>()
  private readonly maxCachedSubjects: number
  private count = 0
  /** Bumped on every change of interest; lets callers know cached results went stale. */
  generation = 0
  cacheHits = 0
  matches = 0

  constructor (options: SubjectTrieOptions = {}) {
    this.maxCachedSubjects = options.maxCachedSubjects ?? 16384
  }

  get size (): number {
    return this.count
  }

  get cachedSubjects (): number {
    return this.cache.size
  }

  insert (sub: S): void {
    const tokens = sub.subject.split('.')
    let level = this.root
    let node: TrieNode<S> | null = null
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as string
      if (token === '*') {
        node = level.star ??= newNode()
      } else if (token === '>') {
        node = level.tail ??= newNode()
      } else {
        node = level.literal.get(token) ?? null
        if (node === null) {
          node = newNode()
          level.literal.set(token, node)
        }
      }
      if (i < tokens.length - 1) level = node.next ??= newLevel()
    }
    if (node === null) return
    if (sub.queue === undefined) {
      node.plain.add(sub)
    } else {
      let members = node.groups.get(sub.queue)
      if (members === undefined) {
        members = new Set()
        node.groups.set(sub.queue, members)
      }
      members.add(sub)
    }
    this.count++
    this.invalidate()
  }

  /** Removes a subscription; returns false when it was not in the trie. */
  remove (sub: S): boolean {
    const tokens = sub.subject.split('.')
    const path: Array<{ level: TrieLevel<S>, token: string, node: TrieNode<S> }> = []
    let level: TrieLevel<S> | null = this.root
    let node: TrieNode<S> | null = null
    for (const token of tokens) {
      if (level === null) return false
      node = token === '*' ? level.star : token === '>' ? level.tail : level.literal.get(token) ?? null
      if (node === null) return false
      path.push({ level, token, node })
      level = node.next
    }
    if (node === null) return false
    let removed: boolean
    if (sub.queue === undefined) {
      removed = node.plain.delete(sub)
    } else {
      const members = node.groups.get(sub.queue)
      removed = members?.delete(sub) ?? false
      if (members !== undefined && members.size === 0) node.groups.delete(sub.queue)
    }
    if (!removed) return false
    // Prune empty branches bottom-up so churn of unique subjects (inboxes) does not leak.
    for (let i = path.length - 1; i >= 0; i--) {
      const step = path[i] as { level: TrieLevel<S>, token: string, node: TrieNode<S> }
      if (step.node.next !== null && isEmptyLevel(step.node.next)) step.node.next = null
      if (!isEmptyNode(step.node)) break
      if (step.token === '*') step.level.star = null
      else if (step.token === '>') step.level.tail = null
      else step.level.literal.delete(step.token)
    }
    this.count--
    this.invalidate()
    return true
  }

  match (subject: string): MatchResult<S> {
    this.matches++
    const cached = this.cache.get(subject)
    if (cached !== undefined) {
      this.cacheHits++
      return cached
    }
    const plain: S[] = []
    const groups = new Map<string, S[]>()
    matchLevel(this.root, subject.split('.'), 0, plain, groups)
    const result: MatchResult<S> = plain.length === 0 && groups.size === 0
      ? EMPTY_RESULT
      : { plain, groups: [...groups.values()] }
    if (this.cache.size >= this.maxCachedSubjects) this.cache.clear()
    this.cache.set(subject, result)
    return result
  }

  private invalidate (): void {
    this.generation++
    this.cache.clear()
  }
}

function collect<S> (node: TrieNode<S>, plain: S[], groups: Map<string, S[]>): void {
  for (const sub of node.plain) plain.push(sub)
  for (const [queue, members] of node.groups) {
    let list = groups.get(queue)
    if (list === undefined) {
      list = []
      groups.set(queue, list)
    }
    for (const sub of members) list.push(sub)
  }
}

function matchLevel<S> (
  level: TrieLevel<S>,
  tokens: string[],
  index: number,
  plain: S[],
  groups: Map<string,
  S[]>
): void {
  const last = index === tokens.length - 1
  if (level.tail !== null) collect(level.tail, plain, groups)
  if (level.star !== null) {
    if (last) collect(level.star, plain, groups)
    else if (level.star.next !== null) matchLevel(level.star.next, tokens, index + 1, plain, groups)
  }
  const node = level.literal.get(tokens[index] as string)
  if (node !== undefined) {
    if (last) collect(node, plain, groups)
    else if (node.next !== null) matchLevel(node.next, tokens, index + 1, plain, groups)
  }
}
