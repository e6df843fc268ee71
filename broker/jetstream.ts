/**
 * The part of the JetStream API that official clients use to read a stream, served from the
 * broker's history (history.ts): account and stream info, stream names and list, ephemeral
 * pull consumers (deliver policy all, last, last per subject, new, by start sequence, by start
 * time; one filter subject; ack policy none, as ordered consumers use), pull `next` with batch,
 * max bytes, no_wait, expires and idle heartbeat, consumer info, names and delete, and direct
 * and stream message get. Every other request gets a JetStream error saying so.
 *
 * Pure apart from what the peer does with a message: the router passes requests in, the clock
 * and a periodic `sweep()` drive expiry, heartbeats and the removal of idle consumers. Answers
 * go to the requesting connection's own subscriptions on the reply subject, as a request's
 * answer does.
 */
import { randomBytes } from 'node:crypto'
import { type HistoryNote, type HistoryStream, type StoredMessage } from './history.ts'
import { isSubsetMatch, isValidSubject, subjectMatches } from './subjects.ts'

export const JS_API_PREFIX = '$JS.API.'

/** The connection a request came from. */
export interface JetStreamPeer {
  readonly cid: number
  readonly isClosed: boolean
  /** Delivers to this connection's subscriptions on `to`, showing `subject` and `reply`. */
  sendTo: (to: string, subject: string, reply: string | undefined, data: Buffer, headerBytes: number) => void
}

export interface JetStreamLimits {
  /** Consumers one connection may hold. */
  maxConsumersPerConnection: number
  /** Consumers in all. */
  maxConsumers: number
  /** Waiting pull requests per consumer (JetStream's max_waiting). */
  maxWaiting: number
  /** An ephemeral consumer's idle time before removal when it sets none (JetStream's 5 s). */
  defaultInactiveMs: number
  /** The longest idle time a consumer may ask for. */
  maxInactiveMs: number
}

/** JetStream errors, as nats-server sends them (server/errors.json). */
type Answer = (type: string, body: Record<string, unknown>) => void

const ERR = {
  badRequest: { code: 400, err_code: 10003, description: 'bad request' },
  invalidJson: { code: 400, err_code: 10025, description: 'invalid JSON' },
  streamNotFound: { code: 404, err_code: 10059, description: 'stream not found' },
  consumerNotFound: { code: 404, err_code: 10014, description: 'consumer not found' },
  noMessage: { code: 404, err_code: 10037, description: 'no message found' },
  filterNotSubset: { code: 400, err_code: 10093, description: 'consumer filter subject is not a valid subset of the interest subjects' },
  maxConsumers: { code: 400, err_code: 10026, description: 'maximum consumers limit reached' },
  consumerExists: { code: 400, err_code: 10013, description: 'consumer name already in use' },
  headersTooLarge: { code: 400, err_code: 10097, description: 'header size exceeds maximum allowed of 64k' }
} as const

/** The largest header block a stream stores, as nats-server's JetStream (a larger one: error 10097). */
export const MAX_STORED_HEADER_BYTES = 65535
type ApiError = { code: number, err_code: number, description: string }

function policyError (description: string): ApiError {
  return { code: 400, err_code: 10094, description }
}
function unsupported (what: string): ApiError {
  return { code: 400, err_code: 10003, description: `bad request: ${what} is not supported by tickfan's history (streams are set by --history, consumers are ephemeral pull consumers with ack policy none)` }
}

/** Every consumer configuration field JetStream knows: others are refused as unknown. */
const CONSUMER_FIELDS = new Set([
  'name', 'durable_name', 'description', 'deliver_policy', 'opt_start_seq', 'opt_start_time', 'ack_policy', 'ack_wait',
  'max_deliver', 'backoff', 'filter_subject', 'filter_subjects', 'replay_policy', 'rate_limit_bps', 'sample_freq',
  'max_waiting', 'max_ack_pending', 'flow_control', 'idle_heartbeat', 'headers_only', 'max_batch', 'max_expires',
  'max_bytes', 'inactive_threshold', 'num_replicas', 'mem_storage', 'metadata', 'deliver_subject', 'deliver_group',
  'pause_until', 'priority_policy', 'priority_groups', 'priority_timeout'
])
const CREATE_FIELDS = new Set(['stream_name', 'config', 'action', 'pedantic'])
const NEXT_FIELDS = new Set(['batch', 'max_bytes', 'no_wait', 'expires', 'idle_heartbeat', 'heartbeat', 'group', 'min_pending', 'min_ack_pending', 'priority', 'id'])

type DeliverPolicy = 'all' | 'last' | 'last_per_subject' | 'new' | 'by_start_sequence' | 'by_start_time'
const POLICIES = new Set<string>(['all', 'last', 'last_per_subject', 'new', 'by_start_sequence', 'by_start_time'])

interface PullRequest {
  readonly reply: string
  remaining: number
  bytesLeft: number
  readonly expiresAtMs: number
  readonly heartbeatMs: number
  lastSentMs: number
}

class Consumer {
  /** Next stream sequence to look at. */
  cursor: number
  /** Last-per-subject: the stream sequences still to deliver before going on from `cursor`. */
  backlog: number[] = []
  deliveredConsumerSeq = 0
  deliveredStreamSeq = 0
  pending = 0
  readonly waiting: PullRequest[] = []
  lastActiveMs: number
  readonly createdIso: string

  constructor (
    readonly stream: HistoryStream,
    readonly name: string,
    readonly owner: JetStreamPeer,
    readonly config: Record<string, unknown>,
    readonly filter: string | null,
    readonly inactiveMs: number,
    nowMs: number
  ) {
    this.cursor = stream.lastSeq + 1
    this.lastActiveMs = nowMs
    this.createdIso = new Date(nowMs).toISOString()
  }

  matches (subject: string): boolean {
    return this.filter === null || subjectMatches(this.filter, subject)
  }
}

export class JetStreamService {
  private readonly streams = new Map<string, HistoryStream>()
  private readonly consumers = new Map<string, Consumer>()
  private readonly perConnection = new Map<number, number>()
  private apiTotal = 0
  private apiErrors = 0
  /** Consumers removed for being idle, and refused for a limit. */
  removedIdle = 0
  refused = 0

  constructor (
    streams: readonly HistoryStream[],
    private readonly limits: JetStreamLimits,
    private readonly now: () => number
  ) {
    for (const s of streams) {
      this.streams.set(s.config.name, s)
      s.onRemove = (seq, subject) => { this.removed(s, seq, subject) }
    }
  }

  get streamList (): readonly HistoryStream[] {
    return [...this.streams.values()]
  }

  get consumerCount (): number {
    return this.consumers.size
  }

  /** The streams that keep `subject` (usually none or one). */
  capturing (subject: string): HistoryStream | null {
    for (const s of this.streams.values()) if (s.captures(subject)) return s
    return null
  }

  /**
   * A published message on a subject `stream` keeps: stored (once per Nats-Msg-Id), acknowledged
   * to a publisher that asked (`reply`), and handed to waiting pulls. `data` is the header block
   * (`headerBytes` long, 0 if none) and payload; `msgId` its `Nats-Msg-Id`, if it has one. The
   * history copies `data`, which may be a view of a read buffer. Positional, not one object:
   * this runs for every trade.
   */
  store (
    stream: HistoryStream,
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    msgId: string | undefined,
    from: JetStreamPeer | null,
    nowMs: number,
    /** The caller's note of the subject for `stream` (HistoryStream.append). */
    note?: HistoryNote
  ): void {
    const appended = stream.append(subject, data, headerBytes, msgId, nowMs, note)
    const duplicate = appended < 0
    const seq = duplicate ? -appended : appended
    if (reply !== undefined && from !== null) {
      const ack = duplicate
        ? { stream: stream.config.name, seq, duplicate: true }
        : { stream: stream.config.name, seq }
      from.sendTo(reply, reply, undefined, Buffer.from(JSON.stringify(ack)), 0)
    }
    if (duplicate || this.consumers.size === 0) return
    for (const c of this.consumers.values()) {
      if (c.stream !== stream || !c.matches(subject) || seq < c.cursor) continue
      c.pending++
      if (c.waiting.length > 0) this.serve(c)
    }
  }

  /**
   * Whether a message's header block is too large for `stream` to store (nats-server's JetStream
   * refuses one past 64 KiB): then it is counted, and a publisher that asked (`reply`) is told
   * with JetStream's error, `seq` 0. It is still delivered live, as by nats-server.
   */
  headersTooLarge (
    stream: HistoryStream,
    headerBytes: number,
    from: JetStreamPeer | null,
    reply: string | undefined
  ): boolean {
    if (headerBytes <= MAX_STORED_HEADER_BYTES) return false
    stream.headersTooLarge++
    if (reply !== undefined && from !== null) {
      const ack = { error: ERR.headersTooLarge, stream: stream.config.name, seq: 0 }
      from.sendTo(reply, reply, undefined, Buffer.from(JSON.stringify(ack)), 0)
    }
    return true
  }

  /**
   * Whether a message with this `Nats-Msg-Id` is already in `stream` (within its duplicate
   * window): then it is acknowledged as a duplicate and delivered to no one again, so a
   * publisher that republishes after a reconnect duplicates nothing.
   */
  duplicate (
    stream: HistoryStream,
    msgId: string,
    from: JetStreamPeer | null,
    reply: string | undefined,
    nowMs: number
  ): boolean {
    const seq = stream.seenId(msgId, nowMs)
    if (seq === undefined) return false
    stream.duplicates++
    if (reply !== undefined && from !== null) {
      const ack = { stream: stream.config.name, seq, duplicate: true }
      from.sendTo(reply, reply, undefined, Buffer.from(JSON.stringify(ack)), 0)
    }
    return true
  }

  /** A request on `$JS.API.…`. */
  request (from: JetStreamPeer, subject: string, reply: string | undefined, payload: Buffer): void {
    if (reply === undefined) return // nobody to answer (nats-server ignores these too)
    this.apiTotal++
    const tokens = subject.slice(JS_API_PREFIX.length).split('.')
    const op = tokens.slice(0, 2).join('.')
    const answer = (type: string, body: Record<string, unknown>): void => {
      if ('error' in body) this.apiErrors++
      from.sendTo(reply, reply, undefined, Buffer.from(JSON.stringify({ type: `io.nats.jetstream.api.v1.${type}`, ...body })), 0)
    }
    const fail = (type: string, error: ApiError): void => { answer(type, { error }) }
    if (tokens[0] === 'INFO') return answer('account_info_response', this.accountInfo())
    const parsed = parseBody(payload)
    if (parsed === null) return fail(`${responseType(op)}`, ERR.invalidJson)
    switch (op) {
      case 'STREAM.NAMES': {
        const subject = parsed.subject
        const names = [...this.streams.values()]
          .filter((s) => typeof subject !== 'string' || overlaps(s, subject))
          .map((s) => s.config.name)
        return answer('stream_names_response', { total: names.length, offset: 0, limit: 1024, streams: names })
      }
      case 'STREAM.LIST': {
        const streams = [...this.streams.values()].map((s) => this.streamInfo(s))
        return answer('stream_list_response', { total: streams.length, offset: 0, limit: 256, streams })
      }
      case 'STREAM.INFO': {
        const stream = this.streams.get(tokens.slice(2).join('.'))
        if (stream === undefined) return answer('stream_info_response', { error: ERR.streamNotFound, total: 0, offset: 0, limit: 0 })
        return answer('stream_info_response', { total: 0, offset: 0, limit: 0, ...this.streamInfo(stream) })
      }
      case 'CONSUMER.CREATE': return this.create(from, tokens, parsed, answer)
      case 'CONSUMER.INFO':
      case 'CONSUMER.DELETE': {
        const c = this.consumers.get(consumerKey(tokens[2] ?? '', tokens[3] ?? ''))
        const type = op === 'CONSUMER.INFO' ? 'consumer_info_response' : 'consumer_delete_response'
        if (!this.streams.has(tokens[2] ?? '')) return fail(type, ERR.streamNotFound)
        if (c === undefined || tokens.length !== 4) return fail(type, ERR.consumerNotFound)
        if (op === 'CONSUMER.INFO') return answer(type, this.consumerInfo(c))
        this.remove(c)
        return answer(type, { success: true })
      }
      case 'CONSUMER.NAMES': {
        const stream = tokens[2] ?? ''
        if (!this.streams.has(stream)) return fail('consumer_names_response', ERR.streamNotFound)
        const names = [...this.consumers.values()].filter((c) => c.stream.config.name === stream).map((c) => c.name)
        names.sort()
        return answer('consumer_names_response', { total: names.length, offset: 0, limit: 1024, consumers: names })
      }
      case 'CONSUMER.MSG': return this.next(from, tokens, reply, parsed)
      case 'DIRECT.GET': return this.directGet(from, tokens, reply, parsed)
      case 'STREAM.MSG': {
        if (tokens[2] !== 'GET') break
        const stream = this.streams.get(tokens.slice(3).join('.'))
        if (stream === undefined) return fail('stream_msg_get_response', ERR.streamNotFound)
        const msg = findMessage(stream, parsed)
        if (msg === undefined) return fail('stream_msg_get_response', ERR.noMessage)
        const hdrs = msg.headerBytes > 0 ? { hdrs: msg.data.subarray(0, msg.headerBytes).toString('base64') } : {}
        return answer('stream_msg_get_response', {
          message: { subject: msg.subject, seq: msg.seq, ...hdrs, data: msg.data.subarray(msg.headerBytes).toString('base64'), time: isoNs(msg) }
        })
      }
    }
    fail(responseType(op), unsupported(`$JS.API.${tokens.join('.')}`))
  }

  /** A connection went away: its consumers stop waiting and are removed. */
  connectionClosed (peer: JetStreamPeer): void {
    for (const c of [...this.consumers.values()]) if (c.owner === peer) this.remove(c)
  }

  /**
   * Removes messages past their stream's age limit (a quiet stream has no append to do it),
   * expires pull requests, sends idle heartbeats, removes idle consumers.
   */
  sweep (): void {
    const now = this.now()
    for (const s of this.streams.values()) s.expire(now)
    for (const c of [...this.consumers.values()]) {
      if (c.owner.isClosed) { this.remove(c); continue }
      for (let i = c.waiting.length - 1; i >= 0; i--) {
        const pull = c.waiting[i] as PullRequest
        if (now >= pull.expiresAtMs) {
          c.waiting.splice(i, 1)
          c.lastActiveMs = now
          sendStatus(c.owner, pull.reply, '408 Request Timeout', pull)
        } else if (pull.heartbeatMs > 0 && now - pull.lastSentMs >= pull.heartbeatMs) {
          pull.lastSentMs = now
          sendStatus(c.owner, pull.reply, '100 Idle Heartbeat', null)
        }
      }
      if (c.waiting.length === 0 && now - c.lastActiveMs > c.inactiveMs) {
        this.removedIdle++
        this.remove(c)
      }
    }
  }

  private create (from: JetStreamPeer, tokens: string[], body: Record<string, unknown>, answer: Answer): void {
    const type = 'consumer_create_response'
    const fail = (error: ApiError): void => { answer(type, { error }) }
    const stream = this.streams.get(tokens[2] ?? '')
    if (stream === undefined) return fail(ERR.streamNotFound)
    const unknown = Object.keys(body).find((k) => !CREATE_FIELDS.has(k))
    if (unknown !== undefined) return fail({ ...ERR.invalidJson, description: `invalid JSON: json: unknown field "${unknown}"` })
    const config = body.config
    if (typeof config !== 'object' || config === null || Array.isArray(config)) return fail(ERR.badRequest)
    const cfg = config as Record<string, unknown>
    const unknownField = Object.keys(cfg).find((k) => !CONSUMER_FIELDS.has(k))
    if (unknownField !== undefined) return fail({ ...ERR.invalidJson, description: `invalid JSON: json: unknown field "${unknownField}"` })
    if (body.stream_name !== undefined && body.stream_name !== stream.config.name) return fail({ code: 400, err_code: 10056, description: 'stream name in subject does not match request' })
    if (cfg.durable_name !== undefined) return fail(unsupported('a durable consumer'))
    if (cfg.deliver_subject !== undefined) return fail(unsupported('a push consumer (deliver_subject)'))
    if ((cfg.ack_policy ?? 'none') !== 'none') return fail(unsupported(`ack policy ${String(cfg.ack_policy)}`))
    if (cfg.filter_subjects !== undefined) {
      if (!Array.isArray(cfg.filter_subjects) || cfg.filter_subjects.length > 1) return fail(unsupported('more than one filter subject'))
    }
    const filterValue = cfg.filter_subject ?? (Array.isArray(cfg.filter_subjects) ? cfg.filter_subjects[0] : undefined)
    let filter: string | null = null
    if (filterValue !== undefined && filterValue !== '' && filterValue !== '>') {
      if (typeof filterValue !== 'string' || !isValidSubject(filterValue)) return fail(ERR.filterNotSubset)
      if (!overlaps(stream, filterValue)) return fail(ERR.filterNotSubset)
      filter = filterValue
    }
    const policy = (cfg.deliver_policy ?? 'all') as string
    if (!POLICIES.has(policy)) return fail(ERR.badRequest)
    const startSeq = cfg.opt_start_seq
    const startTime = cfg.opt_start_time
    const seqSet = startSeq !== undefined && startSeq !== 0
    if (policy === 'by_start_sequence' && !seqSet) return fail(policyError('consumer delivery policy is deliver by start sequence, but optional start sequence is not set'))
    if (policy !== 'by_start_sequence' && seqSet) return fail(policyError(`consumer delivery policy is deliver ${policyWords(policy as DeliverPolicy)}, but optional start sequence is also set`))
    if (policy === 'by_start_time' && startTime === undefined) return fail(policyError('consumer delivery policy is deliver by start time, but optional start time is not set'))
    if (policy !== 'by_start_time' && startTime !== undefined) return fail(policyError(`consumer delivery policy is deliver ${policyWords(policy as DeliverPolicy)}, but optional start time is also set`))
    if (seqSet && (typeof startSeq !== 'number' || !Number.isSafeInteger(startSeq) || startSeq < 0)) return fail(ERR.badRequest)
    const startMs = typeof startTime === 'string' ? Date.parse(startTime) : NaN
    if (policy === 'by_start_time' && Number.isNaN(startMs)) return fail(ERR.badRequest)
    const name = typeof cfg.name === 'string' && cfg.name !== '' ? cfg.name : (tokens[3] ?? randomBytes(6).toString('base64url'))
    if (!/^[^.*>\s]+$/.test(name)) return fail(ERR.badRequest)
    const key = consumerKey(stream.config.name, name)
    if (this.consumers.has(key)) return fail(ERR.consumerExists)
    const owned = this.perConnection.get(from.cid) ?? 0
    if (owned >= this.limits.maxConsumersPerConnection || this.consumers.size >= this.limits.maxConsumers) {
      this.refused++
      return fail(ERR.maxConsumers)
    }
    const inactiveNs = typeof cfg.inactive_threshold === 'number' && cfg.inactive_threshold > 0 ? cfg.inactive_threshold : 0
    const askedMs = inactiveNs > 0 ? inactiveNs / 1e6 : this.limits.defaultInactiveMs
    const inactiveMs = Math.min(askedMs, this.limits.maxInactiveMs)
    const now = this.now()
    const c = new Consumer(stream, name, from, cfg, filter, inactiveMs, now)
    if (policy === 'all') c.cursor = stream.firstSeq
    else if (policy === 'by_start_sequence') c.cursor = Math.max(startSeq as number, stream.firstSeq)
    else if (policy === 'by_start_time') c.cursor = stream.seqAtOrAfter(startMs)
    else if (policy === 'last') {
      const last = filter === null ? stream.lastMessage : lastMatching(stream, filter)
      c.cursor = last?.seq ?? stream.lastSeq + 1
    } else if (policy === 'last_per_subject') {
      c.backlog = stream.lastPerSubject(filter).map((m) => m.seq)
    }
    c.pending = c.backlog.length + stream.countFrom(c.cursor, filter)
    this.consumers.set(key, c)
    this.perConnection.set(from.cid, owned + 1)
    answer(type, this.consumerInfo(c))
  }

  private next (from: JetStreamPeer, tokens: string[], reply: string, body: Record<string, unknown>): void {
    if (tokens[2] !== 'NEXT') return sendStatus(from, reply, '400 Bad Request', null)
    const c = this.consumers.get(consumerKey(tokens[3] ?? '', tokens[4] ?? ''))
    if (c === undefined || c.owner.isClosed) return sendStatus(from, reply, '409 Consumer Deleted', null)
    if (Object.keys(body).some((k) => !NEXT_FIELDS.has(k))) return sendStatus(from, reply, '400 Bad Request', null)
    const batch = body.batch ?? 1
    if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1) return sendStatus(from, reply, '400 Bad Request', null)
    const now = this.now()
    c.lastActiveMs = now
    const expiresNs = typeof body.expires === 'number' ? body.expires : 0
    const heartbeatNs = typeof body.idle_heartbeat === 'number' ? body.idle_heartbeat : 0
    const maxBytes = typeof body.max_bytes === 'number' && body.max_bytes > 0 ? body.max_bytes : Infinity
    const pull: PullRequest = {
      reply,
      remaining: batch,
      bytesLeft: maxBytes,
      expiresAtMs: expiresNs > 0 ? now + expiresNs / 1e6 : Infinity,
      heartbeatMs: heartbeatNs / 1e6,
      lastSentMs: now
    }
    const noWait = body.no_wait === true
    if (c.waiting.length >= this.limits.maxWaiting) {
      const oldest = c.waiting.shift() as PullRequest
      sendStatus(c.owner, oldest.reply, '409 Exceeded MaxWaiting', null)
    }
    c.waiting.push(pull)
    this.serve(c)
    if (!c.waiting.includes(pull)) return
    if (noWait) {
      c.waiting.splice(c.waiting.indexOf(pull), 1)
      sendStatus(from, reply, pull.remaining < batch ? '408 Request Timeout' : '404 No Messages', pull.remaining < batch ? pull : null)
    }
  }

  /** Hands waiting pulls what is stored for them. */
  private serve (c: Consumer): void {
    while (c.waiting.length > 0) {
      const msg = this.nextFor(c)
      if (msg === undefined) return
      const pull = c.waiting[0] as PullRequest
      if (msg.data.length > pull.bytesLeft) {
        c.waiting.shift()
        sendStatus(c.owner, pull.reply, '409 Message Size Exceeds MaxBytes', pull)
        continue
      }
      this.advancePast(c, msg)
      c.deliveredConsumerSeq++
      c.deliveredStreamSeq = msg.seq
      c.pending--
      c.lastActiveMs = this.now()
      const ack = `$JS.ACK.${c.stream.config.name}.${c.name}.1.${msg.seq}.${c.deliveredConsumerSeq}.${msg.timeNs}.${c.pending}`
      c.owner.sendTo(pull.reply, msg.subject, ack, msg.data, msg.headerBytes)
      pull.remaining--
      pull.bytesLeft -= msg.data.length
      pull.lastSentMs = c.lastActiveMs
      if (pull.remaining === 0) c.waiting.shift()
    }
  }

  private nextFor (c: Consumer): StoredMessage | undefined {
    while (c.backlog.length > 0) {
      const msg = c.stream.get(c.backlog[0] as number)
      if (msg !== undefined) return msg
      c.backlog.shift()
    }
    return c.stream.nextFrom(c.cursor, c.filter)
  }

  private advancePast (c: Consumer, msg: StoredMessage): void {
    if (c.backlog.length > 0 && c.backlog[0] === msg.seq) {
      c.backlog.shift()
      if (c.backlog.length === 0) c.cursor = Math.max(c.cursor, msg.seq + 1)
      return
    }
    c.cursor = msg.seq + 1
  }

  private directGet (from: JetStreamPeer, tokens: string[], reply: string, body: Record<string, unknown>): void {
    const stream = this.streams.get(tokens[2] ?? '')
    if (stream === undefined) return sendStatus(from, reply, '404 Message Not Found', null)
    const bySubject = tokens.length > 3 ? tokens.slice(3).join('.') : undefined
    const msg = bySubject !== undefined ? stream.lastOn(bySubject) : findMessage(stream, body)
    if (msg === undefined) return sendStatus(from, reply, '404 Message Not Found', null)
    const extra = `Nats-Stream: ${stream.config.name}\r\nNats-Subject: ${msg.subject}\r\nNats-Sequence: ${msg.seq}\r\nNats-Time-Stamp: ${isoNs(msg)}\r\n`
    const own = msg.headerBytes > 0 ? msg.data.subarray(0, msg.headerBytes - 2).toString('latin1') : 'NATS/1.0\r\n'
    const header = Buffer.from(`${own}${extra}\r\n`, 'latin1')
    from.sendTo(reply, reply, undefined, Buffer.concat([header, msg.data.subarray(msg.headerBytes)]), header.length)
  }

  private remove (c: Consumer): void {
    const key = consumerKey(c.stream.config.name, c.name)
    if (this.consumers.get(key) !== c) return
    this.consumers.delete(key)
    const owned = (this.perConnection.get(c.owner.cid) ?? 1) - 1
    if (owned <= 0) this.perConnection.delete(c.owner.cid)
    else this.perConnection.set(c.owner.cid, owned)
    if (!c.owner.isClosed) for (const pull of c.waiting.splice(0)) sendStatus(c.owner, pull.reply, '409 Consumer Deleted', null)
  }

  /** A message left the stream: consumers that had not reached it count it no longer. */
  private removed (stream: HistoryStream, seq: number, subject: string): void {
    for (const c of this.consumers.values()) {
      if (c.stream !== stream || !c.matches(subject)) continue
      if (seq >= c.cursor || c.backlog.includes(seq)) c.pending--
    }
  }

  private accountInfo (): Record<string, unknown> {
    let bytes = 0
    for (const s of this.streams.values()) bytes += s.bytes
    return {
      memory: bytes,
      storage: 0,
      streams: this.streams.size,
      consumers: this.consumers.size,
      limits: {
        max_memory: -1,
        max_storage: -1,
        max_streams: -1,
        max_consumers: this.limits.maxConsumers,
        max_ack_pending: -1,
        memory_max_stream_bytes: -1,
        storage_max_stream_bytes: -1,
        max_bytes_required: false
      },
      api: { total: this.apiTotal, errors: this.apiErrors }
    }
  }

  private streamInfo (s: HistoryStream): Record<string, unknown> {
    const c = s.config
    const first = s.firstMessage
    const last = s.lastMessage
    return {
      config: {
        name: c.name,
        subjects: c.subjects,
        retention: 'limits',
        max_consumers: -1,
        max_msgs: -1,
        max_bytes: c.maxBytes,
        max_age: c.maxAgeMs * 1e6,
        max_msgs_per_subject: c.maxMsgsPerSubject > 0 ? c.maxMsgsPerSubject : -1,
        max_msg_size: -1,
        discard: 'old',
        storage: 'memory',
        num_replicas: 1,
        duplicate_window: c.duplicateWindowMs * 1e6,
        allow_direct: true,
        mirror_direct: false,
        sealed: false,
        deny_delete: true,
        deny_purge: true,
        allow_rollup_hdrs: false
      },
      created: new Date(s.createdMs).toISOString(),
      state: {
        messages: s.messages,
        bytes: s.bytes,
        first_seq: s.firstSeq,
        first_ts: first === undefined ? '0001-01-01T00:00:00Z' : isoNs(first),
        last_seq: s.lastSeq,
        last_ts: last === undefined ? '0001-01-01T00:00:00Z' : isoNs(last),
        num_deleted: s.deleted,
        num_subjects: s.subjectCount,
        consumer_count: [...this.consumers.values()].filter((x) => x.stream === s).length
      }
    }
  }

  private consumerInfo (c: Consumer): Record<string, unknown> {
    return {
      stream_name: c.stream.config.name,
      name: c.name,
      created: c.createdIso,
      config: { ...c.config, name: c.name, ack_policy: 'none', deliver_policy: c.config.deliver_policy ?? 'all', replay_policy: 'instant', max_waiting: this.limits.maxWaiting, inactive_threshold: c.inactiveMs * 1e6 },
      delivered: { consumer_seq: c.deliveredConsumerSeq, stream_seq: c.deliveredStreamSeq },
      ack_floor: { consumer_seq: c.deliveredConsumerSeq, stream_seq: c.deliveredStreamSeq },
      num_ack_pending: 0,
      num_redelivered: 0,
      num_waiting: c.waiting.length,
      num_pending: Math.max(0, c.pending)
    }
  }
}

/** Whether some subject can be both in `stream` and match `subject`. */
function overlaps (stream: HistoryStream, subject: string): boolean {
  return stream.config.subjects.some((p) => isSubsetMatch(subject, p) || isSubsetMatch(p, subject))
}

function consumerKey (stream: string, name: string): string {
  return `${stream} ${name}`
}

function parseBody (payload: Buffer): Record<string, unknown> | null {
  if (payload.length === 0) return {}
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null
  } catch {
    return null
  }
}

function responseType (op: string): string {
  return `${op.toLowerCase().replace('.', '_')}_response`
}

function policyWords (policy: DeliverPolicy): string {
  return policy === 'last_per_subject' ? 'last per subject' : policy.replaceAll('_', ' ')
}

function lastMatching (stream: HistoryStream, filter: string): StoredMessage | undefined {
  let last: StoredMessage | undefined
  for (const m of stream.lastPerSubject(filter)) if (last === undefined || m.seq > last.seq) last = m
  return last
}

/** A stream message get: `{ seq }` or `{ last_by_subj }` (with `next_by_subj` for the first at or after `seq`). */
function findMessage (stream: HistoryStream, body: Record<string, unknown>): StoredMessage | undefined {
  if (typeof body.last_by_subj === 'string') return stream.lastOn(body.last_by_subj)
  if (typeof body.seq !== 'number') return undefined
  if (typeof body.next_by_subj === 'string') return stream.nextFrom(body.seq, body.next_by_subj)
  return stream.get(body.seq)
}

function isoNs (msg: StoredMessage): string {
  const iso = new Date(msg.timeMs).toISOString() // …T02:21:54.723Z
  return `${iso.slice(0, -1)}${msg.timeNs.slice(-6)}Z`
}

/** A status message (`NATS/1.0 408 Request Timeout`), with the pending counts a pull's end carries. */
function sendStatus (to: JetStreamPeer, reply: string, status: string, pull: PullRequest | null): void {
  const pending = pull === null ? '' : `Nats-Pending-Messages: ${pull.remaining}\r\nNats-Pending-Bytes: ${pull.bytesLeft === Infinity ? 0 : pull.bytesLeft}\r\n`
  const header = Buffer.from(`NATS/1.0 ${status}\r\n${pending}\r\n`, 'latin1')
  to.sendTo(reply, reply, undefined, header, header.length)
}
