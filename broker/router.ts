/**
 * The broker core, free of I/O: connections, the interest trie, the last-value cache and the
 * fan-out scheduler, and how a published message flows through them:
 *
 *   publish -> classify subject -> encode once (RoutedMessage) -> last-value? offer to cache
 *   (older sequence: drop) -> match trie (cached per subject) -> each plain subscriber and one
 *   random member per queue group: outbox.deliver -> mark connection dirty -> flush turn in
 *   shuffled order -> one socket write per connection.
 *
 * Links to what lies beyond this process (the other workers of a multi-core broker, an upstream
 * NATS server) plug in through `links`: every change of local interest is announced, every
 * local publish is handed on (the link decides which queue groups are served elsewhere), and
 * messages from a link enter through `publishFromLink`, the same path without handing them on.
 */
import { Authenticator, type AuthResult, type Credentials } from './auth.ts'
import { Client } from './client.ts'
import type { ClientHost, PublishSubject, Transport } from './client-host.ts'
import type { Subscription } from './subscription.ts'
import type { ConflationCause } from './flow-control.ts'
import { ProtocolError, type CloseReason, type ProtocolErrorCode } from './errors.ts'
import { FanoutScheduler, type FanoutOptions } from './fanout.ts'
import { LastValueCache } from './last-value.ts'
import { wsMessageLimitBytes, type BrokerOptions } from './options.ts'
import { SubjectClass, SubjectClassifier } from './subject-classes.ts'
import { SubjectTrie, type MatchResult } from './subject-trie.ts'
import { InputPacing } from './input-pacing.ts'
import { SnapshotQueue } from './snapshots.ts'
import { INTERNER_SLOTS } from './subject-intern.ts'
import { isValidLiteralSubject, isValidSubject, subjectMatches } from './subjects.ts'
import { HISTORY_ONLY_HEADER, MSG_ID_HEADER, SEQUENCE_HEADER } from '../lib/headers.ts'
import { FRAME_SHARE_MIN_FANOUT, RoutedMessage, encodeNoResponders, readHeaderValue, readIntegerHeader, withoutHeader } from './wire.ts'
import { type HistoryNote, HistoryStream, historyConfigsOf } from './history.ts'
import { JS_API_PREFIX, JetStreamService, type JetStreamPeer } from './jetstream.ts'
import { LargeMessageGc } from './large-message-gc.ts'

const NO_SUBSCRIPTIONS: readonly Subscription[] = Object.freeze([])
/**
 * The publisherCid of a message published on this worker by a connection it no longer knows
 * (closed since, or a value its loopback held back: worker-mesh.ts): published here, not
 * received from a link (below 0). Connection ids start at 1.
 */
export const LOCAL_PUBLISHER_UNKNOWN = 0
/** The publisherCid of a message from a link that does not say where it was published (an upstream server). */
export const LINK_PUBLISHER_UNKNOWN = -1
/**
 * The publisherCid of a message another worker of this broker published (its index), so that
 * its cached values can be told apart: worker-mesh.ts gives a restarted worker back its own.
 */
export const publisherOfWorker = (worker: number): number => -2 - worker

export interface RouterStats {
  inMsgs: number
  inBytes: number
  /** Messages that came from a link (another worker or upstream), not from a client here. */
  linkInMsgs: number
  /** Published messages that reached at least one subscriber. */
  routedMsgs: number
  /** Deliveries queued to outboxes (before conflation). */
  deliveries: number
  totalConnections: number
  slowConsumers: number
  /**
   * Times a connection started conflating, by cause: flow control judged it too far behind to
   * be written to (flow-control.ts). A count that grows with only fast readers means the broker
   * misjudges them.
   */
  conflationStarts: Record<ConflationCause, number>
  slowConsumersByReason: Record<string, number>
  protocolErrors: Record<string, number>
  closedByReason: Record<string, number>
  noResponders: number
  rejectedConnections: number
  /** Most deliveries one publish made. */
  maxFanout: number
}

export interface RouterDeps {
  now?: () => number
  random?: () => number
  schedule?: FanoutOptions['schedule']
  /** Connection ids: first and step (workers of one broker use distinct ones). Default 1 and 1. */
  cidStart?: number
  cidStride?: number
}

/** Which queue groups a message from a link may be delivered to here. */
export type QueueFilter = 'all' | ReadonlySet<string>

/** What lies beyond this process: other workers of the same broker, or an upstream NATS server. */
export interface RouterLinks {
  /** A subscription was added (+1) or removed (-1) here. */
  interestChanged (subject: string, queue: string | undefined, delta: 1 | -1): void
  /**
   * A local client published `subject`; `localGroups` are the queue groups with members here.
   * The link carries the message on and returns the names of the groups it chose to have
   * served elsewhere (null: every local group is served here).
   */
  published (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    localGroups: readonly (readonly Subscription[])[],
    lastValue: boolean
  ): ReadonlySet<string> | null
  /** Does anyone beyond this process listen on `subject` (for the no-responders status)? */
  hasInterest (subject: string): boolean
  /**
   * Whether JetStream requests go beyond this process (an upstream NATS cluster may serve them);
   * otherwise the broker answers them from its own history (each worker from its copy).
   */
  readonly carriesJetStream: boolean
  /** What the link has carried, for /varz. */
  readonly stats: object
  /**
   * Interest changes announced so far (a sequence), and whether every peer has applied those up
   * to `seq`. A link that does not track this (an upstream NATS cluster, where the official
   * client's own flush orders it) leaves them out: settled at once.
   */
  readonly interestSeq?: number
  interestSettled? (seq: number): boolean
  whenInterestSettled? (seq: number, settled: () => void): void
  /**
   * Runs `run` once every local publish the link took (publishAll) has come back and been
   * delivered here. A link without publishAll leaves it out: local publishes are delivered at once.
   */
  afterLocalPublishes? (run: () => void): void
  /**
   * Fair delivery across workers: the link takes a local publish whole, sending it to the other
   * workers and back to this one by the same path, so local subscribers are served no sooner
   * than remote ones (the message comes back through publishFromLink with `origin`). Returns
   * false when it cannot (then the router delivers locally as before). `localPlain`: whether
   * plain subscriptions here match; `localGroups`: the queue groups with members here.
   */
  publishAll? (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    localGroups: readonly (readonly Subscription[])[],
    localPlain: boolean,
    lastValue: boolean,
    origin: Client | null
  ): boolean
}

type Limits = Pick<BrokerOptions, 'maxControlLineBytes' | 'maxPayloadBytes' | 'maxPendingEventBytes' | 'maxPendingLastValueBytes' | 'wsMaxMessageBytes'>

/** What the router keeps per subject (subjectFacts). */
export interface SubjectFacts extends PublishSubject, HistoryNote {
  /** The subject's latin1 bytes, for the MSG lines of its deliveries (RoutedMessage.subjectBytes). */
  readonly subjectBytes: Buffer
  readonly subjectClass: SubjectClass
  /** The history stream that keeps it (null: none). */
  readonly history: HistoryStream | null
  /** A JetStream API request (`$JS.API.…`). */
  readonly jetStreamApi: boolean
  /** Its subscribers when the trie was at `generation`; null until first matched. */
  match: MatchResult<Subscription> | null
  generation: number
  /** Whether `match` is at least two subscriptions, all with the same sid (oneSidOf). */
  oneSid: boolean
}

/** Subjects whose facts are kept; past it all are dropped and learnt again. */
const MAX_SUBJECT_FACTS = 65536

export class Router implements ClientHost {
  readonly now: () => number
  readonly trie = new SubjectTrie<Subscription>()
  readonly lastValues: LastValueCache
  readonly classifier: SubjectClassifier
  readonly scheduler: FanoutScheduler
  /** Read budgets and held-back publishers: input never outruns output. */
  readonly pacing: InputPacing<Client>
  /** Snapshots larger than one batch, delivered over the following turns. */
  readonly snapshots: SnapshotQueue
  readonly clients = new Map<number, Client>()
  /** Connections currently conflating (socket past its high-water mark). */
  readonly conflatingClients = new Set<Client>()
  /** Most recently closed connections, oldest first, for /connz?state=closed. */
  readonly closedClients: Client[] = []
  readonly startedAtMs: number
  readonly stats: RouterStats = {
    inMsgs: 0,
    inBytes: 0,
    linkInMsgs: 0,
    routedMsgs: 0,
    deliveries: 0,
    totalConnections: 0,
    slowConsumers: 0,
    conflationStarts: { socket_buffer: 0, window: 0, ack_wait: 0 },
    slowConsumersByReason: {},
    protocolErrors: {},
    closedByReason: {},
    noResponders: 0,
    rejectedConnections: 0,
    maxFanout: 0
  }

  /** Per-subject facts (subjectFacts). */
  private readonly facts = new Map<string, SubjectFacts>()
  /**
   * The same facts by the parser's key for their subject (its interner's slot): an array index
   * and one comparison of strings that are the same string, where the Map hashed and compared
   * (its lookups were about 2% of a capped broker's samples on the trade path,
   * reports/broker/subject-keys.md).
   */
  private readonly factsByKey = new Array<SubjectFacts | undefined>(INTERNER_SLOTS).fill(undefined)
  /** The message every plain and event publish is routed as, while it is free (see route()). */
  private readonly reusable = RoutedMessage.reusable()
  private reusableFree = true
  /** Totals carried over from closed connections, so /varz counts never go backwards. */
  private closedTotals = { outMsgs: 0, outBytes: 0, outPayloadBytes: 0, writes: 0, conflated: 0 }
  private readonly random: () => number
  private nextCid: number
  private readonly cidStride: number
  private readonly limits: Limits
  readonly authenticator: Authenticator
  /**
   * The history streams and the JetStream API that reads them (jetstream.ts); null with
   * `--history=`. Each worker keeps a whole copy (the mesh brings it every message on the
   * streams' subjects); behind an upstream cluster it stands aside for the cluster's JetStream.
   */
  readonly jetstream: JetStreamService | null
  private readonly jetStreamPeers = new WeakMap<Client, JetStreamPeer>()
  /** Collects the dead buffers of large messages before V8 would (large-message-gc.ts). */
  readonly largeMessageGc: LargeMessageGc

  /** Set by a multi-worker broker or an upstream link; null for a lone broker. */
  links: RouterLinks | null = null

  constructor (readonly options: BrokerOptions, deps: RouterDeps = {}) {
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
    this.nextCid = deps.cidStart ?? 1
    this.cidStride = deps.cidStride ?? 1
    this.lastValues = new LastValueCache({
      maxSubjects: options.maxLastValueSubjects,
      maxBytes: options.maxLastValueBytes,
      sequenceHoldMs: options.lastValueSequenceHoldMs
    })
    this.classifier = new SubjectClassifier(options.subjectClasses)
    this.scheduler = new FanoutScheduler({ schedule: deps.schedule, random: this.random, shuffle: options.fairShuffle })
    this.pacing = new InputPacing(this.now, deps.schedule)
    this.snapshots = new SnapshotQueue((subject) => this.lastValues.get(subject), deps.schedule)
    this.holdBackEventBytes = Math.floor(options.maxPendingEventBytes / 2)
    this.limits = {
      maxControlLineBytes: options.maxControlLineBytes,
      maxPayloadBytes: options.maxPayloadBytes,
      maxPendingEventBytes: options.maxPendingEventBytes,
      maxPendingLastValueBytes: options.maxPendingLastValueBytes,
      wsMaxMessageBytes: wsMessageLimitBytes(options)
    }
    this.authenticator = new Authenticator(options.authorization ?? {})
    this.largeMessageGc = new LargeMessageGc({ minBytes: options.largeMessageGcBytes })
    this.jetstream = options.history.length === 0 ? null : new JetStreamService(
      historyConfigsOf(options).map((config) => {
        const stream = new HistoryStream(config, this.now())
        if (options.historyPreallocate) stream.preallocate()
        return stream
      }),
      {
        maxConsumersPerConnection: options.maxConsumersPerConnection,
        maxConsumers: options.maxConsumers,
        maxWaiting: 512,
        defaultInactiveMs: 5_000,
        maxInactiveMs: 300_000
      },
      this.now
    )
    this.startedAtMs = this.now()
  }

  /**
   * The clock as read once for the chunk of input being handled (beginInput), which every
   * message in that chunk is stamped with: on the publish path a clock read per message cost
   * about 4% of the broker's time (perf, bench/micro/publish-path.ts --subject trade). Messages
   * handled outside a chunk (timers, resumed input) read the clock each.
   */
  private inputClockMs = 0
  private inputClockHeld = false

  /** Input is about to be handled: reads the clock for it; false when an outer call holds it already. */
  beginInput (): boolean {
    if (this.inputClockHeld) return false
    this.inputClockMs = this.now()
    this.inputClockHeld = true
    return true
  }

  /** The input beginInput announced was handled. */
  endInput (): void {
    this.inputClockHeld = false
  }

  /** When the message being routed arrived: the chunk's clock, or now. */
  private arrivalTime (): number {
    return this.inputClockHeld ? this.inputClockMs : this.now()
  }

  get maxInMsgsPerSec (): number {
    return this.options.maxInMsgsPerSec
  }

  get maxSubscriptionOpsPerSec (): number {
    return this.options.maxSubscriptionOpsPerSec
  }

  /** Half the slow-consumer limit, as nats-server's stall gate. */
  readonly holdBackEventBytes: number

  readBudgetSpent (client: Client): void {
    this.pacing.budgetSpent(client)
  }

  throttle (client: Client, untilMs: number): void {
    this.pacing.pauseUntil(client, untilMs)
  }

  authenticate (credentials: Credentials, address: string): AuthResult | Promise<AuthResult> {
    return this.authenticator.authenticate(credentials, address, this.now())
  }

  isProtectedSubject (subject: string): boolean {
    return this.classifier.classify(subject) !== SubjectClass.Plain
  }

  admitWithoutConnect (): AuthResult | null {
    return this.authenticator.admitWithoutConnect()
  }

  get maxSubscriptionsPerConnection (): number {
    return this.options.maxSubscriptionsPerConnection
  }

  get highWaterBytes (): number {
    return this.options.highWaterBytes
  }

  get maxInFlightBytes (): number {
    return this.options.maxInFlightBytes
  }

  get maxAckWaitMs (): number {
    return this.options.maxAckWaitMs
  }

  /**
   * Connections taken but not yet clients (WebSocket upgrades under way, server.ts): they hold
   * files as clients do, so they count against the connection limit.
   */
  private pendingConnections = 0

  /** How many places takePendingPlace holds now. */
  get pendingPlaces (): number {
    return this.pendingConnections
  }

  /**
   * Set by a worker while it takes a connection the primary dealt past the broker-wide limit
   * (server.ts take, connection-dealer.ts): it is refused here as one past this process's own.
   */
  fullElsewhere = false

  /** Whether one more connection fits under the limit, counting those still upgrading. */
  hasRoomForConnection (): boolean {
    return !this.fullElsewhere && this.clients.size + this.pendingConnections < this.options.maxConnections
  }

  /** A connection not yet a client (a WebSocket upgrade) takes a place; false, counted as rejected, when none is. */
  takePendingPlace (): boolean {
    if (!this.hasRoomForConnection()) {
      this.stats.rejectedConnections++
      return false
    }
    this.pendingConnections++
    return true
  }

  /** The place taken by takePendingPlace is given back (the connection became a client, or went). */
  releasePendingPlace (): void {
    this.pendingConnections--
  }

  /** A new socket: greet it with INFO, or refuse it past the connection limit. */
  accept (transport: Transport, info: (cid: number) => string): Client | null {
    const cid = this.nextCid
    this.nextCid += this.cidStride
    if (!this.hasRoomForConnection()) {
      this.stats.rejectedConnections++
      this.count(this.stats.protocolErrors, 'MAX_CONNECTIONS')
      transport.close(Buffer.from(`${info(cid)}-ERR '${ProtocolError.MAX_CONNECTIONS.text}'\r\n`))
      return null
    }
    const client = new Client(cid, transport, this, this.limits)
    this.clients.set(cid, client)
    this.stats.totalConnections++
    // INFO must be the very first bytes; written directly, not through the turn.
    transport.write(Buffer.from(info(cid)))
    return client
  }

  // --- ClientHost ----------------------------------------------------------------------

  /**
   * The facts of a subject, kept per subject (at most MAX_SUBJECT_FACTS, then all dropped): its
   * class, whether it may be published to, and its subscribers as of the trie's generation. A
   * steady stream to the same subjects costs one Map lookup per message for all three, or, with
   * the parser's key for the subject (`subjectKey`), an array read and a comparison.
   */
  subjectFacts (subject: string, subjectKey = -1): SubjectFacts {
    if (subjectKey >= 0) {
      const known = this.factsByKey[subjectKey]
      if (known !== undefined && known.subject === subject) return known
    }
    let facts = this.facts.get(subject)
    if (facts === undefined) {
      if (this.facts.size >= MAX_SUBJECT_FACTS) {
        this.facts.clear()
        this.factsByKey.fill(undefined)
      }
      const jetStreamApi = subject.startsWith(JS_API_PREFIX)
      facts = {
        subject,
        subjectBytes: Buffer.from(subject, 'latin1'),
        subjectClass: this.classifier.classify(subject),
        history: this.jetstream?.capturing(subject) ?? null,
        jetStreamApi,
        // A JetStream request names a consumer's filter subject in its own (`…CREATE.s.c.trade.>`).
        publishable: isValidLiteralSubject(subject) || (jetStreamApi && isValidSubject(subject)),
        match: null,
        generation: -1,
        oneSid: false,
        historyState: null
      }
      this.facts.set(subject, facts)
    }
    if (subjectKey >= 0) this.factsByKey[subjectKey] = facts
    return facts
  }

  /** The subscribers of a subject now: its facts' match, redone when interest changed since. */
  private matchOf (facts: SubjectFacts): MatchResult<Subscription> {
    const generation = this.trie.generation
    if (facts.match === null || facts.generation !== generation) {
      facts.match = this.trie.match(facts.subject)
      facts.generation = generation
      facts.oneSid = oneSidOf(facts.match)
    }
    return facts.match
  }

  publish (
    from: Client | null,
    subject: PublishSubject,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    sequence: number | undefined | null = null
  ): void {
    this.stats.inMsgs++
    this.stats.inBytes += data.length
    this.route(from, subject as SubjectFacts, reply, data, headerBytes, from === null ? 'all' : null, true, undefined, sequence)
  }

  /**
   * A message from a link (another worker, upstream): routed here only, never handed back.
   * `queues`: the queue groups it may reach; `plain`: whether plain subscribers get it (an
   * upstream server sends a queue group's copy separately from the plain subscribers' one);
   * `publisher`: its publisherCid here (publisherOfWorker for another worker's).
   */
  publishFromLink (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    queues: QueueFilter,
    plain = true,
    publisher = LINK_PUBLISHER_UNKNOWN
  ): void {
    this.stats.linkInMsgs++
    this.route(null, this.subjectFacts(subject), reply, data, headerBytes, queues, plain, publisher)
  }

  /**
   * A local publish coming back through the link's loopback (see RouterLinks.publishAll): `origin` is who
   * published it.
   */
  publishFromLoopback (
    origin: Client | null,
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    queues: QueueFilter
  ): void {
    const from = origin !== null && origin.isClosed ? null : origin
    const publisher = from?.cid ?? LOCAL_PUBLISHER_UNKNOWN
    this.route(from, this.subjectFacts(subject), reply, data, headerBytes, queues, true, publisher)
  }

  /**
   * The publish path. `queues`: null for a local publish (the links, if any, decide where queue
   * groups are served and carry the message on), or which groups a linked message may reach.
   */
  private route (
    from: Client | null,
    facts: SubjectFacts,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    queues: QueueFilter | null,
    deliverPlain = true,
    /** The message's publisherCid (wire.ts): below 0 from a link. */
    publisher = from?.cid ?? LINK_PUBLISHER_UNKNOWN,
    /** Its Tickfan-Seq when the publisher's header scan read it (header-block.ts); null: read it here. */
    scannedSequence: number | undefined | null = null
  ): void {
    const stats = this.stats
    const subject = facts.subject
    const subjectClass = facts.subjectClass
    const links = this.links
    // The history is here unless an upstream cluster keeps it; each worker of a broker keeps a copy.
    const history = links?.carriesJetStream === true ? null : this.jetstream
    if (facts.jetStreamApi && history !== null) {
      const payload = data.subarray(headerBytes > 0 ? headerBytes : 0)
      if (from !== null) history.request(this.jetStreamPeer(from), subject, reply, payload)
      return
    }
    if (queues === null && links?.publishAll !== undefined) {
      const local = this.matchOf(facts)
      if (this.answeredNoResponders(from, reply, subject, local.plain.length + local.groups.length)) return
      if (links.publishAll(
        subject,
        reply,
        data,
        headerBytes,
        local.groups,
        // A subject this worker's history keeps comes back here even with nobody listening.
        local.plain.length > 0 || (facts.history !== null && history !== null),
        subjectClass === SubjectClass.LastValue,
        from
      )) return
    }
    const nowMs = this.arrivalTime()
    let msgId: string | undefined
    // Whether the history stores it: it keeps the subject, unless it refuses the message (headers past 64 KiB).
    let stored = facts.history !== null && history !== null
    if (facts.history !== null && history !== null && headerBytes > 0) {
      const peer = this.ackPeer(from, reply)
      if (history.headersTooLarge(facts.history, headerBytes, peer, reply)) stored = false
      else {
        msgId = readHeaderValue(data, headerBytes, MSG_ID_HEADER)
        if (msgId !== undefined && history.duplicate(facts.history, msgId, peer, reply, nowMs)) return
        const forHistory = withoutHeader(data, headerBytes, HISTORY_ONLY_HEADER)
        if (forHistory !== null) {
          // A republished trade: kept, delivered to no one live (lib/headers.ts HISTORY_ONLY_HEADER).
          const { data: only, headerBytes: onlyHeaderBytes } = forHistory
          history.store(facts.history, subject, reply, only, onlyHeaderBytes, msgId, peer, nowMs, facts)
          return
        }
      }
    }
    const sequence = subjectClass !== SubjectClass.LastValue || headerBytes <= 0
      ? undefined
      : scannedSequence !== null ? scannedSequence : readIntegerHeader(data, headerBytes, SEQUENCE_HEADER)
    // Nothing holds a plain or event message past this call but through retain(): one object
    // serves every publish (a last-value message is always kept, and a publish made while one
    // is being fanned out gets its own). Freed at the end; a throw on the way leaves it taken,
    // and every later publish then gets its own object: slower, never wrong.
    const reused = this.reusableFree && subjectClass !== SubjectClass.LastValue
    const msg = reused
      ? this.reusable.reuse(subject, reply, subjectClass, data, headerBytes, nowMs, sequence, publisher)
      : new RoutedMessage(subject, reply, subjectClass, data, headerBytes, nowMs, sequence, publisher)
    if (reused) this.reusableFree = false
    msg.subjectBytes = facts.subjectBytes
    this.largeMessageGc.noteMessage(data.length)
    if (subjectClass === SubjectClass.LastValue && this.lastValues.offer(msg) === 'older') return // never the reused one

    const match = this.matchOf(facts)
    const plain = deliverPlain ? match.plain : NO_SUBSCRIPTIONS
    const groups = match.groups
    const oneSid = facts.oneSid && deliverPlain
    msg.shareFrames = oneSid || plain.length + groups.length >= FRAME_SHARE_MIN_FANOUT
    msg.shareFirst = oneSid
    const servedElsewhere = queues === null && links !== null ? links.published(
      subject,
      reply,
      data,
      headerBytes,
      groups,
      subjectClass === SubjectClass.LastValue
    ) : null
    const echo = from === null || from.options.echo
    // Whose subscriptions may be passed over: the publisher's, all of them without echo; else,
    // for a publish come back round the loopback (queues set), those it made after publishing
    // it (Subscription.afterOwnInFlight). Not for a last value: one worker's SUB would have had
    // it from the cache's snapshot, and there it is stored only now.
    const own = from !== null && (!echo || (queues !== null && subjectClass !== SubjectClass.LastValue)) ? from : null
    let delivered = 0
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i] as Subscription
      if (sub.client === own && passedOver(sub, echo)) continue
      if (sub.client.deliver(sub, msg) && from !== null) this.pacing.holdBack(from, sub.client)
      delivered++
    }
    for (let g = 0; g < groups.length; g++) {
      const members = groups[g] as readonly Subscription[]
      // A linked message names the groups it may reach; a local one reaches every local group
      // but those its links chose to have served elsewhere.
      const queue = (members[0] as Subscription).queue as string
      if (queues === null ? servedElsewhere?.has(queue) === true : queues !== 'all' && !queues.has(queue)) continue
      const sub = this.pickMember(members, own, echo)
      if (sub === null) continue
      if (sub.client.deliver(sub, msg) && from !== null) this.pacing.holdBack(from, sub.client)
      delivered++
    }
    stats.deliveries += delivered
    if (delivered > stats.maxFanout) stats.maxFanout = delivered
    // The history answers for it (stored, or refused with a reason): no no-responders status then.
    const kept = facts.history !== null && history !== null
    if (stored && facts.history !== null && history !== null) {
      // The history copies it into its own slabs at once: a view of the read buffer will do.
      const peer = this.ackPeer(from, reply)
      history.store(facts.history, subject, reply, msg.content, msg.headerBytes, msgId, peer, nowMs, facts)
    }
    msg.dropFrame() // the message may stay cached: its frame and the read buffer are only for this fan-out
    if (delivered > 0) stats.routedMsgs++
    else if (queues === null && !kept) this.answeredNoResponders(from, reply, subject, plain.length + groups.length)
    if (reused) this.reusableFree = true
  }

  /**
   * A request that `listenersHere` is 0 for: when its sender wants the no-responders status and
   * nobody beyond this process listens either, sends it; true when it did.
   */
  private answeredNoResponders (
    from: Client | null,
    reply: string | undefined,
    subject: string,
    listenersHere: number
  ): boolean {
    if (listenersHere > 0 || reply === undefined || from === null || !from.options.noResponders) return false
    if (this.links?.hasInterest(subject) === true) return false
    this.sendNoResponders(from, reply)
    return true
  }

  subscribe (sub: Subscription): number {
    this.trie.insert(sub)
    this.links?.interestChanged(sub.subject, sub.queue, 1)
    // Snapshot: its first batch queued in the same synchronous step as the insert, so no live
    // message can fall between the snapshot and the first update (no gap), nor be in both (no
    // duplicate); a larger one goes on in later turns, as snapshots.ts explains.
    if (sub.queue !== undefined) return 0
    this.snapshots.start(sub, this.lastValues.subjectsMatching(sub.subject), this.lastValues.stores)
    return this.lastValues.lastScanned
  }

  unsubscribe (sub: Subscription): void {
    if (this.trie.remove(sub)) this.links?.interestChanged(sub.subject, sub.queue, -1)
    this.snapshots.ended(sub)
  }

  /**
   * Closes, with the stated slow-consumer reason, every client whose subscriptions match one
   * of `subjects` (messages it will never get: a worker link fell behind), or, for '>', every
   * client subscribed to anything beyond last-value subjects. Returns how many were closed.
   */
  closeSubscribersOf (subjects: readonly string[], code: ProtocolErrorCode, reason: CloseReason): number {
    const all = subjects.includes('>')
    const victims: Client[] = []
    for (const client of this.clients.values()) {
      for (const sub of client.subscriptions.values()) {
        const missed = all
          ? !this.classifier.onlyLastValue(sub.subject)
          : subjects.some((s) => subjectMatches(sub.subject, s))
        if (missed) { victims.push(client); break }
      }
    }
    for (const client of victims) client.closeWith(code, reason)
    return victims.length
  }

  get interestSeq (): number {
    return this.links?.interestSeq ?? 0
  }

  interestSettled (seq: number): boolean {
    return this.links?.interestSettled?.(seq) ?? true
  }

  whenInterestSettled (seq: number, settled: () => void): void {
    const links = this.links
    if (links?.whenInterestSettled === undefined) settled()
    else links.whenInterestSettled(seq, settled)
  }

  afterLocalPublishes (run: () => void): void {
    const links = this.links
    if (links?.afterLocalPublishes === undefined) run()
    else links.afterLocalPublishes(run)
  }

  markDirty (client: Client): void {
    this.scheduler.markDirty(client)
  }

  startedConflating (client: Client, cause: ConflationCause): void {
    this.stats.conflationStarts[cause]++
    this.conflatingClients.add(client)
  }

  stoppedConflating (client: Client): void {
    this.conflatingClients.delete(client)
    this.pacing.caughtUp(client)
    this.snapshots.wake()
  }

  closed (client: Client, reason: CloseReason, _error: ProtocolErrorCode | null): void {
    this.clients.delete(client.cid)
    const peer = this.jetStreamPeers.get(client)
    if (peer !== undefined) this.jetstream?.connectionClosed(peer)
    this.conflatingClients.delete(client)
    this.pacing.closed(client)
    this.count(this.stats.closedByReason, reason)
    if (reason.startsWith('slow consumer')) {
      this.stats.slowConsumers++
      this.count(this.stats.slowConsumersByReason, reason)
    }
    const totals = this.closedTotals
    totals.outMsgs += client.writer.outMsgs
    totals.outBytes += client.writer.outBytes
    totals.outPayloadBytes += client.writer.outPayloadBytes
    totals.writes += client.writer.writes
    totals.conflated += client.writer.conflated
    this.closedClients.push(client)
    if (this.closedClients.length > this.options.closedConnectionsKept) this.closedClients.shift()
  }

  protocolError (_client: Client, code: ProtocolErrorCode): void {
    this.count(this.stats.protocolErrors, code)
  }

  // --- periodic ------------------------------------------------------------------------

  /**
   * Fail fast: close conflating connections whose oldest undelivered update is older than
   * maxStaleMs, or whose socket has been blocked past maxBlockedMs. Also drives connect
   * timeouts and server pings. Called by the server on an interval.
   */
  sweep (): void {
    const now = this.now()
    this.jetstream?.sweep()
    const { maxStaleMs, maxBlockedMs } = this.options
    for (const client of [...this.conflatingClients]) {
      if (client.transport.bufferedBytes === 0 && client.outbox.conflating) {
        client.writer.drained() // a drain we were not told about (e.g. WebSocket buffered in ws)
        if (!client.outbox.conflating) continue
      }
      if (now - client.outbox.conflatingSince > maxBlockedMs) {
        client.closeWith('SLOW_CONSUMER_BLOCKED', 'slow consumer (blocked)')
        continue
      }
      const oldest = client.outbox.oldestPendingAtMs()
      if (oldest !== undefined && now - oldest > maxStaleMs) client.closeWith('SLOW_CONSUMER_STALE', 'slow consumer (stale)')
    }
    const { connectTimeoutMs, pingIntervalMs, maxPingsOutstanding } = this.options
    for (const client of [...this.clients.values()]) client.tick(
      now,
      connectTimeoutMs,
      pingIntervalMs,
      maxPingsOutstanding
    )
  }

  /** Closes every connection (server shutdown), after one last flush turn. */
  closeAll (): void {
    this.scheduler.turn()
    for (const client of [...this.clients.values()]) client.closeWith(null, 'server shutdown') // no -ERR: clients must reconnect, as with nats-server
  }

  // --- totals for monitoring -----------------------------------------------------------

  /** outBytes: protocol bytes written; outPayloadBytes: the headers and payloads among them. */
  totals (): { outMsgs: number, outBytes: number, outPayloadBytes: number, writes: number, conflated: number } {
    const t = { ...this.closedTotals }
    for (const client of this.clients.values()) {
      t.outMsgs += client.writer.outMsgs
      t.outBytes += client.writer.outBytes
      t.outPayloadBytes += client.writer.outPayloadBytes
      t.writes += client.writer.writes
      t.conflated += client.writer.conflated
    }
    return t
  }

  // --- internals -----------------------------------------------------------------------

  /** A live member of a queue group, drawn at random, passing over what route passes over of `own`. */
  private pickMember (members: readonly Subscription[], own: Client | null, echo: boolean): Subscription | null {
    const n = members.length
    const start = Math.floor(this.random() * n)
    for (let k = 0; k < n; k++) {
      const sub = members[(start + k) % n] as Subscription
      if (!sub.closed && !(sub.client === own && passedOver(sub, echo))) return sub
    }
    return null
  }

  private sendNoResponders (from: Client, reply: string): void {
    for (const sub of from.subscriptions.values()) {
      if (subjectMatches(sub.subject, reply)) {
        this.stats.noResponders++
        from.control(encodeNoResponders(reply, sub.sidBytes))
        return
      }
    }
  }

  /**
   * Delivers to the local plain subscriptions on exactly `pattern`, showing `subject`: a message
   * an upstream JetStream delivered to an inbox those subscriptions cover (upstream.ts).
   */
  deliverToPattern (
    pattern: string,
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number
  ): void {
    // A literal the pattern matches finds its subscriptions in the trie; keep those on the pattern itself.
    const literal = pattern.split('.').map((t) => t === '*' || t === '>' ? '_' : t).join('.')
    const onPattern = (sub: Subscription): boolean => sub.subject === pattern
    this.deliverShowing(this.trie.match(literal).plain, onPattern, { subject, reply, data, headerBytes })
  }

  /**
   * Delivers one message, showing `m.subject`, to those of `subs` that `wanted` accepts: what
   * JetStream sends to an inbox (a consumer's messages, API answers) reaches its subscribers so.
   */
  private deliverShowing (
    subs: Iterable<Subscription>,
    wanted: (sub: Subscription) => boolean,
    m: { subject: string, reply: string | undefined, data: Buffer, headerBytes: number }
  ): void {
    const { subject, reply, data, headerBytes } = m
    const msg = new RoutedMessage(subject, reply, SubjectClass.Plain, data, headerBytes, this.now(), undefined, -1)
    for (const sub of subs) {
      if (!wanted(sub)) continue
      sub.client.deliver(sub, msg)
      this.stats.deliveries++
    }
    msg.dropFrame()
  }

  /** Who a stored message's acknowledgement goes to: nobody without a reply subject (most trades; no lookup then). */
  private ackPeer (from: Client | null, reply: string | undefined): JetStreamPeer | null {
    return from === null || reply === undefined ? null : this.jetStreamPeer(from)
  }

  /** A connection as the JetStream API sees it: answers go to its subscriptions on the reply subject. */
  private jetStreamPeer (client: Client): JetStreamPeer {
    let peer = this.jetStreamPeers.get(client)
    if (peer === undefined) {
      peer = {
        cid: client.cid,
        get isClosed () { return client.isClosed },
        // Answers go to its own subscriptions on the reply subject, as a request's answer does.
        sendTo: (to, subject, reply, data, headerBytes) => {
          const onInbox = (sub: Subscription): boolean => subjectMatches(sub.subject, to)
          this.deliverShowing(client.subscriptions.values(), onInbox, { subject, reply, data, headerBytes })
        }
      }
      this.jetStreamPeers.set(client, peer)
    }
    return peer
  }

  private count (table: Record<string, number>, key: string): void {
    table[key] = (table[key] ?? 0) + 1
  }
}

/**
 * Whether the subscriptions of a match are at least two and share one sid (most clients number
 * theirs from 1): then one frame serves every delivery (RoutedMessage.shareFirst).
 */
function oneSidOf (match: MatchResult<Subscription>): boolean {
  let sid: Buffer | null = null
  let count = 0
  for (const sub of match.plain) {
    if (sid !== null && sub.sidBytes !== sid) return false
    sid = sub.sidBytes
    count++
  }
  for (const members of match.groups) {
    for (const sub of members) {
      if (sid !== null && sub.sidBytes !== sid) return false
      sid = sub.sidBytes
    }
    count++
  }
  return count >= 2
}

/** Whether a message is kept from `sub` of its own publisher (route's `own`): every one without echo. */
function passedOver (sub: Subscription, echo: boolean): boolean {
  return !echo || sub.afterOwnInFlight
}
