/**
 * Which host names an HTTP request may name in its `Host` header (the broker's
 * `--http-allowed-hosts`, `npm run dashboard -- --allowed-hosts`): a guard against DNS
 * rebinding.
 *
 * A web page from `evil.example` may make its own name resolve to 127.0.0.1, a moment after the
 * browser loaded it. Its scripts then read `http://evil.example:8222/connz` as a page of their
 * own site: the browser's same-origin rule sees one origin and lets them. The request reaches
 * tickfan's monitoring port with `Host: evil.example:8222`, and only that header tells it apart.
 * The WebSocket port is guarded by the page's Origin (ws-origin.ts); the HTTP ports answer reads,
 * which a browser does not ask a server about, so they refuse a name that is not theirs.
 *
 * Always served: a request without `Host` (no browser sends one without), an IP address (v4, or
 * v6 in brackets; a page cannot rebind an address), `localhost` and names under `.localhost`
 * (RFC 6761: they never leave the machine). Entries: `*` (any name, nats-server's behaviour), a
 * name matched exactly (`tickfan.example.com`), or a name with a leading dot, which matches the
 * name and every name under it (`.svc.cluster.local`). Case and a trailing dot do not matter.
 */
import type { FastifyInstance } from 'fastify'

export const ANY_HOST = '*'

/** A DNS name: labels of letters, digits, hyphens and underscores, joined by dots. */
const NAME = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/

/** Why `entries` is not a list of allowed hosts, or null. */
export function allowedHostsProblem (entries: readonly string[]): string | null {
  for (const entry of entries) {
    if (entry === ANY_HOST) continue
    const name = normalName(entry.startsWith('.') ? entry.slice(1) : entry)
    if (!NAME.test(name)) {
      return `${JSON.stringify(entry)} is not ${ANY_HOST}, a host name such as tickfan.example.com, ` +
        'or a domain with a leading dot such as .example.com (no scheme, no port)'
    }
  }
  return null
}

/**
 * Why a request whose `Host` header is `host` is refused, or null when it is served. `allowed`
 * has passed allowedHostsProblem.
 */
export function hostRefusal (host: string | undefined, allowed: readonly string[]): string | null {
  if (host === undefined || host === '') return null // not a browser
  if (allowed.includes(ANY_HOST)) return null
  const name = hostnameOf(host)
  if (name !== null) {
    if (name.startsWith('[') || IPV4.test(name) || name === 'localhost' || name.endsWith('.localhost')) return null
    for (const entry of allowed) {
      const wanted = normalName(entry.startsWith('.') ? entry.slice(1) : entry)
      if (name === wanted || (entry.startsWith('.') && name.endsWith(`.${wanted}`))) return null
    }
  }
  return `host ${JSON.stringify(host.slice(0, 200))} is not allowed`
}

/** The name of a `Host` header, port left out, lower case, no trailing dot; brackets kept on an IPv6 address. */
function hostnameOf (host: string): string | null {
  const text = host.trim().toLowerCase()
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) return null
    const rest = text.slice(close + 1)
    return rest === '' || /^:\d{1,5}$/.test(rest) ? text.slice(0, close + 1) : null
  }
  const colon = text.lastIndexOf(':')
  if (colon >= 0 && !/^\d{1,5}$/.test(text.slice(colon + 1))) return null
  return normalName(colon < 0 ? text : text.slice(0, colon))
}

function normalName (name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

/**
 * Answers a request whose `Host` is not allowed with 403 and the reason, naming `option` (the
 * flag that allows more), before any route or credentials check runs.
 */
export function refuseOtherHosts (app: FastifyInstance, allowed: readonly string[], option: string): void {
  if (allowed.includes(ANY_HOST)) return
  app.addHook('onRequest', async (req, reply) => {
    const refusal = hostRefusal(req.headers.host, allowed)
    if (refusal === null) return
    const list = allowed.length === 0 ? 'none' : allowed.join(',')
    return await reply.code(403).send({
      error: `${refusal}: this port answers IP addresses, localhost and the names ${option} lists (now ${list}); ` +
        `a guard against DNS rebinding`
    })
  })
}
