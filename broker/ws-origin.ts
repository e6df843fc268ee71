/**
 * Which web pages may open a NATS connection on the WebSocket port (`--ws-allowed-origins`).
 *
 * A browser lets any page it shows open a WebSocket to any address, 127.0.0.1 included, and
 * only tells the server which page asked: the request's `Origin` header. A broker that served
 * every origin let any site its user visited read the market and, without authorization,
 * publish quotes into it (cross-site WebSocket hijacking). nats-server's `allowed_origins`
 * refuses origins off a list; tickfan does too, and by default allows only pages served from
 * this machine (the dashboard's). A request without an `Origin` header is no browser's (the
 * official clients in Node, Go, ...): it is never refused here, as in nats-server.
 *
 * Entries: `*` (any origin, nats-server's default), `loopback` (any scheme and port on
 * localhost, 127.0.0.0/8 or [::1]), or an origin, `scheme://host[:port]`, matched exactly (a
 * default port may be left out, as in nats-server).
 */

export const ANY_ORIGIN = '*'
export const LOOPBACK_ORIGINS = 'loopback'

/** Why `entries` is not a list of allowed origins, or null. */
export function allowedOriginsProblem (entries: readonly string[]): string | null {
  if (entries.length === 0) return `give at least one entry (${ANY_ORIGIN} for any origin)`
  for (const entry of entries) {
    if (entry === ANY_ORIGIN || entry === LOOPBACK_ORIGINS) continue
    if (originOf(entry) === null) {
      return `${JSON.stringify(entry)} is not ${ANY_ORIGIN}, ${LOOPBACK_ORIGINS} or an origin such as https://dash.example.com:8443`
    }
  }
  return null
}

/**
 * Why a WebSocket upgrade whose `Origin` header is `origin` is refused, or null when it may
 * connect. `allowed` has passed allowedOriginsProblem.
 */
export function originRefusal (origin: string | undefined, allowed: readonly string[]): string | null {
  if (origin === undefined || origin === '') return null // not a browser
  if (allowed.includes(ANY_ORIGIN)) return null
  const normalized = originOf(origin)
  if (normalized !== null) {
    if (allowed.includes(LOOPBACK_ORIGINS) && isLoopbackHost(new URL(normalized).hostname)) return null
    for (const entry of allowed) if (entry !== LOOPBACK_ORIGINS && originOf(entry) === normalized) return null
  }
  return `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed (--ws-allowed-origins ${allowed.join(',')})`
}

/** `scheme://host[:port]` of an http(s) origin, default port left out, lower case; null if it is none. */
function originOf (text: string): string | null {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return null
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
  const bare = url.username === '' && url.password === '' && url.search === '' && url.hash === '' && url.pathname === '/'
  if (!bare) return null
  return url.origin
}

function isLoopbackHost (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}
