/**
 * Who may connect and what they may do, as nats-server's `authorization` block has it: a token,
 * or users with passwords (bcrypt hashes, as `nats server passwd` makes, or plain text) and
 * per-user permissions; `no_auth_user` names the user a client without credentials acts as.
 *
 * Pure apart from bcrypt: `authenticate` answers synchronously for tokens, plain passwords and
 * credentials it has verified before, and with a promise when a bcrypt hash must be checked
 * (in a worker thread, password-check.ts, so a connect storm does not stall the broker's event
 * loop). Failed attempts are limited per address (LoginThrottle).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { PasswordChecker } from './password-check.ts'
import { isSubsetMatch, isValidSubject, subjectMatches } from './subjects.ts'

/** A list is the allow list, as in nats-server's config. */
export type PermissionRules = readonly string[] | { allow?: readonly string[], deny?: readonly string[] }

export interface UserPermissions {
  publish?: PermissionRules
  subscribe?: PermissionRules
  /** May publish to the reply subject of a request it received: `true` = once, without expiry. */
  allow_responses?: boolean | { max?: number, expires_ms?: number }
}

export interface UserConfig {
  user: string
  /** A bcrypt hash (`$2a$`, `$2b$`, `$2y$`) or, as nats-server allows, plain text. */
  password: string
  permissions?: UserPermissions
}

export interface AuthorizationConfig {
  token?: string
  users?: readonly UserConfig[]
  /** The user a client that sends no credentials acts as. */
  no_auth_user?: string
}

/** Credentials as CONNECT carries them. */
export interface Credentials {
  auth_token?: unknown
  user?: unknown
  pass?: unknown
}

export type AuthResult = { ok: true, user: string | null, permissions: Permissions | null } | { ok: false }

const DENIED: AuthResult = Object.freeze({ ok: false })
const ANONYMOUS: AuthResult = Object.freeze({ ok: true, user: null, permissions: null })
const BCRYPT = /^\$2[aby]\$\d\d\$/
/** Verified (user, password digest) pairs remembered, so reconnects do not pay bcrypt again. */
const VERIFIED_CACHE_SIZE = 4096
/** Permission decisions remembered per user, as nats-server's per-client cache does. */
const DECISION_CACHE_SIZE = 1024

/** A subscribe rule that names a queue group (`"<subject> <queue>"`, as nats-server writes it). */
interface QueueRule {
  readonly subject: string
  /** A queue name, or a pattern of them (`v1.*`). */
  readonly queue: string
}

interface CompiledRules {
  /** Null when there is no allow list (everything is allowed that is not denied). */
  allow: readonly string[] | null
  deny: readonly string[]
  allowQueues: readonly QueueRule[]
  denyQueues: readonly QueueRule[]
}

function compileRules (rules: PermissionRules | undefined, where: string, queues: boolean): CompiledRules {
  if (rules === undefined) return { allow: null, deny: [], allowQueues: [], denyQueues: [] }
  const allowed = Array.isArray(rules) ? rules : (rules as { allow?: readonly string[] }).allow ?? null
  const denied = Array.isArray(rules) ? [] : (rules as { deny?: readonly string[] }).deny ?? []
  const split = (list: readonly string[]): { plain: string[], queued: QueueRule[] } => {
    const plain: string[] = []
    const queued: QueueRule[] = []
    for (const rule of list) {
      const [subject, queue, ...rest] = typeof rule === 'string' ? rule.trim().split(/\s+/) : []
      const valid = subject !== undefined && isValidSubject(subject) && rest.length === 0 &&
        (queue === undefined || (queues && isValidSubject(queue)))
      if (!valid) throw new TypeError(`${where}: invalid subject ${JSON.stringify(rule)}`)
      if (queue === undefined) plain.push(subject)
      else queued.push({ subject, queue })
    }
    return { plain, queued }
  }
  const allow = allowed === null ? null : split(allowed)
  const deny = split(denied)
  return { allow: allow?.plain ?? null, deny: deny.plain, allowQueues: allow?.queued ?? [], denyQueues: deny.queued }
}

/** Whether `queue` is one a rule names: the same name, or within its pattern (nats-server's queueMatches). */
function queueMatches (queue: string, rules: readonly QueueRule[]): boolean {
  return rules.some((r) => r.queue === queue || isSubsetMatch(queue, r.queue))
}

class DecisionCache {
  private readonly decisions = new Map<string, boolean>()
  get (subject: string): boolean | undefined { return this.decisions.get(subject) }
  set (subject: string, allowed: boolean): boolean {
    if (this.decisions.size >= DECISION_CACHE_SIZE) this.decisions.clear()
    this.decisions.set(subject, allowed)
    return allowed
  }
}

/** One user's compiled permissions. */
export class Permissions {
  private readonly publish: CompiledRules
  private readonly subscribe: CompiledRules
  private readonly publishDecisions = new DecisionCache()
  private readonly receiveDecisions = new DecisionCache()
  /** Replies it may send to requests it received; null when not allowed. */
  readonly responses: { max: number, expiresMs: number } | null

  constructor (permissions: UserPermissions, where: string) {
    this.publish = compileRules(permissions.publish, `${where}.publish`, false)
    this.subscribe = compileRules(permissions.subscribe, `${where}.subscribe`, true)
    const r = permissions.allow_responses
    this.responses = r === undefined || r === false
      ? null
      : r === true ? {
        max: 1,
        expiresMs: 0
      } : { max: Math.max(1, r.max ?? 1), expiresMs: Math.max(0, r.expires_ms ?? 0) }
  }

  /** May it publish to this literal subject (reply permissions aside)? */
  mayPublish (subject: string): boolean {
    const cached = this.publishDecisions.get(subject)
    if (cached !== undefined) return cached
    const { allow, deny } = this.publish
    const allowed = (allow === null || allow.some((p) => subjectMatches(p, subject))) &&
      !deny.some((p) => subjectMatches(p, subject))
    return this.publishDecisions.set(subject, allowed)
  }

  /**
   * May it subscribe to this subject (wildcards allowed)? It must lie within an allowed
   * pattern and not within a denied one; a wildcard that only overlaps a denied subject is
   * allowed, and the denied messages are filtered at delivery (`mayReceive`), as nats-server does.
   * A queue subscription is judged by the rules that name a queue, where any cover its subject
   * (`"jobs.> workers"`): in nats-server 2.9's order, those decide over the plain ones.
   */
  maySubscribe (subject: string, queue?: string): boolean {
    const { allow, deny, allowQueues, denyQueues } = this.subscribe
    let allowed = true
    if (allow !== null) {
      allowed = allow.some((p) => isSubsetMatch(subject, p))
      const named = queue === undefined ? [] : allowQueues.filter((r) => isSubsetMatch(subject, r.subject))
      if (named.length > 0) allowed = queueMatches(queue as string, named)
    }
    if (!allowed) return false
    allowed = !deny.some((p) => isSubsetMatch(subject, p))
    const named = queue === undefined ? [] : denyQueues.filter((r) => isSubsetMatch(subject, r.subject))
    if (named.length > 0) allowed = !queueMatches(queue as string, named)
    return allowed
  }

  /** May a message on this literal subject be delivered to it? */
  mayReceive (subject: string): boolean {
    if (this.subscribe.deny.length === 0) return true
    const cached = this.receiveDecisions.get(subject)
    if (cached !== undefined) return cached
    return this.receiveDecisions.set(subject, !this.subscribe.deny.some((p) => subjectMatches(p, subject)))
  }
}

/** Response grants kept per connection at most: a flood of requests cannot grow them without end. */
const MAX_RESPONSE_GRANTS = 4096
/**
 * Grants one requester's requests may hold at most: past it that requester's own oldest grant
 * goes, so a client flooding requests cannot evict the grants of other clients' requests.
 */
const MAX_GRANTS_PER_REQUESTER = 1024
/** Requesters remembered at most (the oldest forgotten first). */
const MAX_REQUESTERS = 4096

/**
 * The reply subjects one connection may answer (allow_responses): each request it receives
 * grants `max` publishes to its reply subject, until `expiresMs` after the request (0 = never).
 * Grants are bounded in all and per requester (the connection that sent the request).
 */
export class ResponseGrants {
  /** Reply subject -> replies left, expiry, and whose request it was. */
  private readonly grants = new Map<string, { left: number, expiresAtMs: number, requester: number }>()
  /** Per requester, its grants' reply subjects, oldest first (some may be used up already). */
  private readonly byRequester = new Map<number, string[]>()

  constructor (private readonly rules: { max: number, expiresMs: number }) {}

  /** A request from `requester` (a connection id; -1 when unknown) with this reply subject was delivered. */
  grant (reply: string, nowMs: number, requester = -1): void {
    let mine = this.byRequester.get(requester)
    if (mine === undefined) {
      if (this.byRequester.size >= MAX_REQUESTERS) this.byRequester.delete(this.byRequester.keys().next().value ?? -1)
      mine = []
      this.byRequester.set(requester, mine)
    }
    while (mine.length >= MAX_GRANTS_PER_REQUESTER) {
      const oldest = mine.shift() as string
      if (this.grants.get(oldest)?.requester === requester) this.grants.delete(oldest)
    }
    if (this.grants.size >= MAX_RESPONSE_GRANTS) this.grants.delete(this.grants.keys().next().value as string)
    const expiresAtMs = this.rules.expiresMs > 0 ? nowMs + this.rules.expiresMs : 0
    this.grants.set(reply, { left: this.rules.max, expiresAtMs, requester })
    mine.push(reply)
  }

  /** May it publish to `subject` as a response? Uses up one reply when it may. */
  use (subject: string, nowMs: number): boolean {
    const grant = this.grants.get(subject)
    if (grant === undefined) return false
    if (grant.expiresAtMs > 0 && nowMs > grant.expiresAtMs) {
      this.grants.delete(subject)
      return false
    }
    if (--grant.left <= 0) this.grants.delete(subject)
    return true
  }
}

/** Why a publish was refused, as the error code Client answers with. */
export type PublishRefusal = 'PERMISSIONS_PUBLISH' | 'PERMISSIONS_REPLY'

/**
 * What one connection may do: who it is, its permissions and the responses it may send.
 * `subjects.isProtectedSubject` says whether a subject is last-value or event, one whose
 * messages only its rightful publishers may write.
 */
export class ConnectionRights {
  /** Reply subjects it may answer (allow_responses); null when it may answer none. */
  private readonly responses: ResponseGrants | null

  constructor (
    /** The authenticated user (null without authorization, or with a token). */
    readonly user: string | null,
    /** What it may publish and subscribe to; null = everything. */
    readonly permissions: Permissions | null,
    private readonly subjects: { isProtectedSubject: (subject: string) => boolean }
  ) {
    this.responses = permissions?.responses == null ? null : new ResponseGrants(permissions.responses)
  }

  /**
   * May it publish to `subject` with this reply subject? By its permissions, or as an allowed
   * response to a request it received; a response grant never writes a last value or an event.
   * A reply subject that is last-value or event is refused unless it may publish there itself:
   * otherwise whoever answers (with a response grant) would write a price or a trade for it.
   */
  publishRefusal (subject: string, reply: string | undefined, now: () => number): PublishRefusal | null {
    const permissions = this.permissions
    if (permissions === null) return null
    if (!permissions.mayPublish(subject) &&
      (this.responses === null || this.subjects.isProtectedSubject(subject) || !this.responses.use(subject, now()))) return 'PERMISSIONS_PUBLISH'
    if (reply !== undefined && this.subjects.isProtectedSubject(reply) && !permissions.mayPublish(reply)) return 'PERMISSIONS_REPLY'
    return null
  }

  maySubscribe (subject: string, queue?: string): boolean {
    return this.permissions === null || this.permissions.maySubscribe(subject, queue)
  }

  /**
   * May this message be delivered to it? A request it may receive grants it a response, counted
   * against the connection that published the request (`publisherCid`; -1 when unknown).
   */
  receives (msg: { subject: string, reply: string | undefined, publisherCid: number }, now: () => number): boolean {
    if (this.permissions === null) return true
    if (!this.permissions.mayReceive(msg.subject)) return false
    if (msg.reply !== undefined && this.responses !== null) this.responses.grant(msg.reply, now(), msg.publisherCid)
    return true
  }
}

/** The rights of a connection that has no authorization to answer to. */
export const UNRESTRICTED = new ConnectionRights(null, null, { isProtectedSubject: () => false })

interface User {
  name: string
  password: string
  hashed: boolean
  permissions: Permissions | null
}

/** Failed attempts from one address within FAILURE_WINDOW_MS before its attempts are refused unchecked. */
const MAX_FAILURES = 10
const FAILURE_WINDOW_MS = 10_000
/** Addresses remembered at most (the oldest forgotten first). */
const MAX_TRACKED_ADDRESSES = 4096

/**
 * Failed logins per address: past MAX_FAILURES within FAILURE_WINDOW_MS, attempts from that
 * address are refused without a check until the window ends. A password guesser then costs a
 * bcrypt check ten times per window, not once per attempt, and bounded memory. Checks still
 * running count too: a burst of 40 wrong passwords at once from one address queued 40 checks,
 * and a real login behind them waited past its connect timeout.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { windowStartMs: number, count: number }>()
  private readonly checking = new Map<string, number>()

  /** May this address try now? */
  mayTry (address: string, nowMs: number): boolean {
    const running = this.checking.get(address) ?? 0
    const f = this.failures.get(address)
    if (f === undefined) return running < MAX_FAILURES
    if (nowMs - f.windowStartMs >= FAILURE_WINDOW_MS) { this.failures.delete(address); return running < MAX_FAILURES }
    return f.count + running < MAX_FAILURES
  }

  /** A slow check (bcrypt) from this address began; `checked` when it ends. */
  checkStarted (address: string): void {
    this.checking.set(address, (this.checking.get(address) ?? 0) + 1)
  }

  checked (address: string): void {
    const running = (this.checking.get(address) ?? 1) - 1
    if (running <= 0) this.checking.delete(address)
    else this.checking.set(address, running)
  }

  failed (address: string, nowMs: number): void {
    const f = this.failures.get(address)
    if (f !== undefined && nowMs - f.windowStartMs < FAILURE_WINDOW_MS) { f.count++; return }
    if (this.failures.size >= MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value as string)
    this.failures.set(address, { windowStartMs: nowMs, count: 1 })
  }
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Compares secrets in constant time (over their digests, so lengths do not leak either). */
function sameSecret (given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

export class Authenticator {
  private readonly token: string | null
  private readonly users = new Map<string, User>()
  private readonly noAuthUser: User | null
  private readonly verified = new Set<string>()
  private readonly passwords = new PasswordChecker()
  private readonly throttle = new LoginThrottle()

  constructor (config: AuthorizationConfig) {
    if (config.token !== undefined && (typeof config.token !== 'string' || config.token === '')) throw new TypeError('authorization.token must be a non-empty string')
    if (config.token !== undefined && config.users !== undefined && config.users.length > 0) {
      throw new TypeError('authorization: a token and users cannot both be set (as in nats-server)')
    }
    this.token = config.token ?? null
    for (const [i, u] of (config.users ?? []).entries()) {
      const where = `authorization.users[${i}]`
      if (typeof u.user !== 'string' || u.user === '') throw new TypeError(`${where}.user must be a non-empty string`)
      if (typeof u.password !== 'string') throw new TypeError(`${where}.password must be a string`)
      if (this.users.has(u.user)) throw new TypeError(`${where}: duplicate user ${JSON.stringify(u.user)}`)
      this.users.set(u.user, {
        name: u.user,
        password: u.password,
        hashed: BCRYPT.test(u.password),
        permissions: u.permissions === undefined ? null : new Permissions(u.permissions, `${where}.permissions`)
      })
    }
    const noAuth = config.no_auth_user
    if (noAuth !== undefined && !this.users.has(noAuth)) throw new TypeError(`authorization.no_auth_user: no user named ${JSON.stringify(noAuth)}`)
    this.noAuthUser = noAuth === undefined ? null : this.users.get(noAuth) as User
  }

  /** Whether CONNECT's credentials are checked at all. */
  get enabled (): boolean {
    return this.token !== null || this.users.size > 0
  }

  /**
   * INFO's auth_required: a client must present credentials. Not said when a client without
   * any is admitted as the no-auth user (nats-server omits it then too).
   */
  get required (): boolean {
    return this.enabled && this.noAuthUser === null
  }

  /**
   * Who a client is when it sends a command before any CONNECT: anyone without authorization,
   * the no-auth user where one is named, and nobody (null: an authorization violation) when
   * credentials are required. nats-server decides the same way on the first byte that is not
   * a CONNECT (server/parser.go).
   */
  admitWithoutConnect (): AuthResult | null {
    if (!this.enabled) return ANONYMOUS
    return this.noAuthUser === null ? null : this.granted(this.noAuthUser)
  }

  /**
   * Checks CONNECT's credentials from `address` (the client's IP; '' when unknown). An address
   * with too many recent failures is refused without a check.
   */
  authenticate (c: Credentials, address = '', nowMs = Date.now()): AuthResult | Promise<AuthResult> {
    if (!this.enabled) return ANONYMOUS
    if (!this.throttle.mayTry(address, nowMs)) return DENIED
    const result = this.check(c)
    if (result instanceof Promise) {
      this.throttle.checkStarted(address)
      return result.then((r) => {
        this.throttle.checked(address)
        if (!r.ok) this.throttle.failed(address, nowMs)
        return r
      }, (err: unknown) => {
        this.throttle.checked(address)
        throw err
      })
    }
    if (!result.ok) this.throttle.failed(address, nowMs)
    return result
  }

  /** Stops the password checker's thread. */
  async close (): Promise<void> {
    await this.passwords.close()
  }

  private check (c: Credentials): AuthResult | Promise<AuthResult> {
    const token = typeof c.auth_token === 'string' ? c.auth_token : null
    const name = typeof c.user === 'string' ? c.user : null
    const pass = typeof c.pass === 'string' ? c.pass : null
    if (this.token !== null) return token !== null && sameSecret(token, this.token) ? ANONYMOUS : DENIED
    const noCredentials = token === null && name === null && pass === null
    if (noCredentials && this.noAuthUser !== null) return this.granted(this.noAuthUser)
    const user = name === null ? undefined : this.users.get(name)
    if (user === undefined || pass === null) return DENIED
    if (!user.hashed) return sameSecret(pass, user.password) ? this.granted(user) : DENIED
    const key = `${user.name}\0${digest(pass).toString('hex')}`
    if (this.verified.has(key)) return this.granted(user)
    return this.passwords.check(pass, user.password).then((ok) => {
      if (!ok) return DENIED
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear()
      this.verified.add(key)
      return this.granted(user)
    }, () => DENIED)
  }

  private granted (user: User): AuthResult {
    return { ok: true, user: user.name, permissions: user.permissions }
  }
}
