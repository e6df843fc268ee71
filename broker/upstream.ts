/**
 * An upstream link: this broker node is a client of a NATS server or cluster (`--upstream
 * nats://a:4222,nats://b:4222`), the backbone between machines. It
 * - forwards what its own clients publish upstream (headers and reply subjects included);
 * - subscribes upstream to every last-value subject (the subject classes' last-value patterns),
 *   so its cache is whole and any new subscriber's snapshot is complete at once (after a node
 *   dies, its clients reconnect elsewhere and find every latest value there);
 * - subscribes upstream to other subjects only as its own clients want them: interest follows
 *   subscriptions, a queue subscription upstream per local queue group, so the cluster picks
 *   one node (or worker) per message;
 * - fans out what comes from upstream locally, with its own last-value cache, conflation and
 *   fairness.
 * - keeps the trade history on the cluster: it creates each `--history` stream there as a
 *   JetStream stream (file storage, `--history-replicas`) when it is absent, retrying until the
 *   cluster's JetStream answers, and leaves the JetStream requests of its clients to the cluster.
 *   A message JetStream delivers to an inbox shows the stored subject, not the inbox: it goes to
 *   the local subscriptions the upstream subscription stands for.
 * The official client does the failover: it holds the server list, reconnects to another server
 * when one dies, renews the subscriptions, and buffers publishes while it reconnects. It connects
 * with `noEcho`, so what this node sends upstream does not come back to it.
 *
 * Core NATS is at-most-once: messages in flight when a server dies, or published while this node
 * has not yet renewed its subscriptions, are lost (README, "What a failure costs").
 */
import { jetstreamManager, StorageType, type StreamConfig } from '@nats-io/jetstream'
import { connect, type Msg, type MsgHdrsImpl, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node'
import type { HistoryConfig } from './history.ts'
import type { Subscription } from './subscription.ts'
import { EncodedHeaders } from '../lib/headers.ts'
import type { Router, RouterLinks } from './router.ts'
import { SubjectClass } from './subject-classes.ts'
import { isSubsetMatch, subjectMatches } from './subjects.ts'

export interface UpstreamOptions {
  servers: readonly string[]
  /** Last-value subject patterns, subscribed upstream for good. */
  lastValue: readonly string[]
  /** Credentials for the upstream servers, when they require them. */
  user?: string
  pass?: string
  name?: string
  /** History streams to keep on the cluster (created there when absent), and their replicas. */
  history?: readonly HistoryConfig[]
  historyReplicas?: number
}

export interface UpstreamStats {
  connected: boolean
  server: string | null
  reconnects: number
  forwardedMsgs: number
  receivedMsgs: number
  /**
   * Messages from upstream dropped because their header block could not be read (nats.js throws
   * on a header name with a space, say; nats-server relays such a block as it came).
   */
  unreadableHeaderMsgs: number
  subscriptions: number
  /** The history streams on the cluster: being created, ready, or why not yet. */
  history: string
}

const NO_QUEUES: ReadonlySet<string> = new Set()

/**
 * The JetStream stream that keeps what a history stream of tickfan's keeps: its subjects and
 * limits (age, bytes, messages per subject, duplicate window), oldest out first.
 */
export function jetStreamConfigOf (
  s: HistoryConfig,
  storage: StorageType,
  replicas: number
): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: [...s.subjects],
    storage,
    num_replicas: replicas,
    max_age: s.maxAgeMs * 1e6,
    max_bytes: s.maxBytes,
    max_msgs_per_subject: s.maxMsgsPerSubject > 0 ? s.maxMsgsPerSubject : -1,
    duplicate_window: s.duplicateWindowMs * 1e6,
    allow_direct: true
  }
}

export class UpstreamLink implements RouterLinks {
  /** The cluster answers JetStream requests (its own JetStream) when it runs it. */
  readonly carriesJetStream = true
  readonly stats: UpstreamStats = {
    connected: false,
    server: null,
    reconnects: 0,
    forwardedMsgs: 0,
    receivedMsgs: 0,
    unreadableHeaderMsgs: 0,
    subscriptions: 0,
    history: 'none'
  }
  /** Upstream subscriptions by local (subject, queue), with how many local subscriptions need each. */
  private readonly interest = new Map<string, { count: number, sub: NatsSubscription }>()

  private constructor (
    private readonly router: Router,
    private readonly nc: NatsConnection,
    private readonly lastValue: readonly string[]
  ) {
    router.links = this
    // Every last value, whoever listens here: the cache stays whole.
    for (const pattern of lastValue) nc.subscribe(
      pattern,
      { callback: (err, m) => { if (err === null) this.fromUpstream(m, NO_QUEUES, true) } }
    )
    // Interest that existed before the link: subscribe upstream to it too.
    for (const client of router.clients.values()) for (const sub of client.subscriptions.values()) this.interestChanged(
      sub.subject,
      sub.queue,
      1
    )
    this.stats.connected = true
    this.stats.server = nc.getServer()
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.stats.connected = false
        if (s.type === 'reconnect') { this.stats.connected = true; this.stats.reconnects++; this.stats.server = nc.getServer() }
      }
    })()
  }

  static async connect (router: Router, o: UpstreamOptions): Promise<UpstreamLink> {
    const nc = await connect({
      servers: [...o.servers],
      name: o.name ?? 'tickfan-upstream',
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2000,
      maxPingOut: 2,
      ...(o.user !== undefined ? { user: o.user, pass: o.pass } : {})
    })
    const link = new UpstreamLink(router, nc, o.lastValue)
    if ((o.history ?? []).length > 0) void link.keepHistoryStreams(o.history ?? [], o.historyReplicas ?? 1)
    return link
  }

  /** Creates the history streams on the cluster where absent; retries each second until JetStream answers. */
  private async keepHistoryStreams (streams: readonly HistoryConfig[], replicas: number): Promise<void> {
    this.stats.history = 'creating'
    for (let attempt = 1; !this.nc.isClosed(); attempt++) {
      try {
        const jsm = await jetstreamManager(this.nc, { timeout: 2000 })
        for (const s of streams) {
          const exists = await jsm.streams.info(s.name).then(() => true, (err: unknown) => {
            if ((err as { code?: unknown }).code === 10059) return false // stream not found
            throw err
          })
          if (exists) continue
          await jsm.streams.add(jetStreamConfigOf(s, StorageType.File, replicas))
        }
        this.stats.history = `ready: ${streams.map((s) => s.name).join(', ')} on the cluster (${replicas} replica${replicas === 1 ? '' : 's'})`
        return
      } catch (err) {
        this.stats.history = `not yet (attempt ${attempt}): ${(err as Error).message}`
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    }
  }

  interestChanged (subject: string, queue: string | undefined, delta: 1 | -1): void {
    const key = `${subject} ${queue ?? ''}`
    const entry = this.interest.get(key)
    if (delta > 0) {
      if (entry !== undefined) { entry.count++; return }
      // Plain interest inside the last-value patterns is served by the subscriptions made at start.
      if (queue === undefined && this.lastValue.some((p) => isSubsetMatch(subject, p))) return
      const router = this.router
      const only = queue === undefined ? NO_QUEUES : new Set([queue])
      const sub = this.nc.subscribe(subject, {
        ...(queue !== undefined ? { queue } : {}),
        // A plain subscription's copy goes to plain subscribers here; a queue subscription's
        // copy (the cluster chose this node for the group) to one member of that group.
        callback: (err, m) => {
          if (err !== null) return
          // Last values come through the subscriptions above; a wildcard here that overlaps
          // them would bring a second copy.
          if (queue === undefined && router.classifier.classify(m.subject) === SubjectClass.LastValue) return
          // JetStream delivered it to an inbox this subscription stands for, showing the stored subject.
          if (queue === undefined && !subjectMatches(subject, m.subject)) return this.deliveredAs(subject, m)
          this.fromUpstream(m, only, queue === undefined)
        }
      })
      this.interest.set(key, { count: 1, sub })
      this.stats.subscriptions = this.interest.size
      return
    }
    if (entry === undefined) return
    if (--entry.count > 0) return
    entry.sub.unsubscribe()
    this.interest.delete(key)
    this.stats.subscriptions = this.interest.size
  }

  published (
    subject: string,
    reply: string | undefined,
    data: Buffer,
    headerBytes: number,
    _localGroups: readonly (readonly Subscription[])[],
    _lastValue: boolean
  ): ReadonlySet<string> | null {
    // Local queue groups are served here; other nodes' members of a group of the same name may
    // get the message too (each node's group is its own: see DEPLOYMENT.md).
    const payload = headerBytes > 0 ? data.subarray(headerBytes) : data
    const options = {
      ...(reply !== undefined ? { reply } : {}),
      ...(headerBytes > 0 ? { headers: new EncodedHeaders(Buffer.from(data.subarray(0, headerBytes))) } : {})
    }
    try {
      this.nc.publish(subject, Buffer.from(payload), options)
      this.stats.forwardedMsgs++
    } catch { /* closed: at-most-once */ }
    return null
  }

  /**
   * Interest beyond this node is not visible here: a request is left to time out rather than be told "no
   * responders" too early.
   */
  hasInterest (_subject: string): boolean {
    return true
  }

  /**
   * `queues`: the local group the cluster chose this node for (a queue subscription's copy); `plain`: whether
   * plain subscribers get it.
   */
  private fromUpstream (m: Msg, queues: ReadonlySet<string>, plain: boolean): void {
    const received = this.received(m)
    if (received === null) return
    this.router.publishFromLink(m.subject, received.reply, received.data, received.headerBytes, queues, plain)
  }

  /** A message for the local subscriptions on `pattern` that shows another subject (a JetStream delivery). */
  private deliveredAs (pattern: string, m: Msg): void {
    const received = this.received(m)
    if (received === null) return
    this.router.deliverToPattern(pattern, m.subject, received.reply, received.data, received.headerBytes)
  }

  /**
   * A message from upstream as the router takes it: header block then payload, counted; null when
   * its header block cannot be read. The exception must not reach nats.js: thrown in a
   * subscription's callback, it ends the client's read loop, and the link would read nothing more.
   */
  private received (m: Msg): { reply: string | undefined, data: Buffer, headerBytes: number } | null {
    this.stats.receivedMsgs++
    let headers: Uint8Array | null
    try {
      headers = m.headers === undefined ? null : (m.headers as MsgHdrsImpl).encode()
    } catch {
      this.stats.unreadableHeaderMsgs++
      return null
    }
    // A view is enough: the router copies what it keeps.
    const data = headers === null ? Buffer.from(
      m.data.buffer,
      m.data.byteOffset,
      m.data.byteLength
    ) : Buffer.concat([headers, m.data])
    return { reply: m.reply === '' ? undefined : m.reply, data, headerBytes: headers === null ? 0 : headers.length }
  }

  async close (): Promise<void> {
    if (this.router.links === this) this.router.links = null
    await this.nc.drain().catch(() => {})
  }
}
