/**
 * The one catalogue of protocol errors. Each code maps to the exact text put on the wire as
 * `-ERR '<text>'` and says whether the connection is closed afterwards.
 *
 * Texts follow nats-server 2.9.10 wherever it sends one (including its odd casing). Where
 * nats-server closes a connection silently (bad CONNECT JSON, a bad size field, HPUB without
 * headers), tickfan sends a -ERR naming the problem first, so the client learns why.
 */
export const ProtocolError = {
  UNKNOWN_OPERATION: { text: 'Unknown Protocol Operation', close: true },
  MAX_CONTROL_LINE: { text: 'maximum control line exceeded', close: true },
  MAX_PAYLOAD: { text: 'Maximum Payload Violation', close: true },
  BAD_SIZE: { text: 'Bad or Missing Size', close: true },
  BAD_HEADER_SIZE: { text: 'Bad or Missing Header Size', close: true },
  BAD_CONNECT: { text: 'Invalid CONNECT JSON', close: true },
  HEADERS_NOT_NEGOTIATED: { text: 'Headers Not Negotiated', close: true },
  /** tickfan's own: nats-server relays any block, which a nats.js subscriber may fail to read (header-block.ts). */
  INVALID_HEADER_BLOCK: { text: 'Invalid Header Block', close: true },
  NO_RESPONDERS_REQUIRES_HEADERS: { text: 'no responders requires headers support', close: true },
  INVALID_SUBJECT: { text: 'Invalid Subject', close: false },
  INVALID_PUBLISH_SUBJECT: { text: 'Invalid Publish Subject', close: false },
  MAX_SUBSCRIPTIONS: { text: 'Maximum Subscriptions Exceeded', close: false },
  MAX_CONNECTIONS: { text: 'maximum connections exceeded', close: true },
  AUTH_TIMEOUT: { text: 'Authentication Timeout', close: true },
  AUTHORIZATION_VIOLATION: { text: 'Authorization Violation', close: true },
  PERMISSIONS_PUBLISH: { text: 'Permissions Violation for Publish', close: false },
  PERMISSIONS_SUBSCRIBE: { text: 'Permissions Violation for Subscription', close: false },
  /** tickfan's own: a request whose reply subject is last-value or event, from one who may not publish there. */
  PERMISSIONS_REPLY: { text: 'Permissions Violation for Reply Subject', close: false },
  STALE_CONNECTION: { text: 'Stale Connection', close: true },
  SLOW_CONSUMER_EVENT_BYTES: { text: 'Slow Consumer: undelivered event messages exceeded the byte limit', close: true },
  SLOW_CONSUMER_LAST_VALUE_BYTES: { text: 'Slow Consumer: undelivered last values exceeded the byte limit', close: true },
  SLOW_CONSUMER_STALE: { text: 'Slow Consumer: oldest undelivered update exceeded maxStaleMs', close: true },
  SLOW_CONSUMER_BLOCKED: { text: 'Slow Consumer: socket blocked past maxBlockedMs', close: true },
  SLOW_CONSUMER_WORKER_LINK: { text: 'Slow Consumer: this worker fell behind its peers and missed event messages', close: true },
  SLOW_CONSUMER_WORKER_LOOPBACK: { text: 'Slow Consumer: this worker fell behind on its own publishes and missed event messages', close: true },
  SLOW_CONSUMER_WEBSOCKET_PONGS: { text: 'Slow Consumer: WebSocket pongs not read exceeded the limit', close: true }
} as const

export type ProtocolErrorCode = keyof typeof ProtocolError

/** The -ERR line; `detail` follows the text, as in `Permissions Violation for Publish to "x"`. */
export function errLine (code: ProtocolErrorCode, detail?: string): string {
  return `-ERR '${ProtocolError[code].text}${detail === undefined ? '' : ` ${detail}`}'\r\n`
}

/** Why a connection ended: the reason shown in /connz?state=closed and counted in /varz. */
export type CloseReason =
  | 'client closed'
  | 'server shutdown'
  | 'protocol error'
  | 'slow consumer (event bytes)'
  | 'slow consumer (last-value bytes)'
  | 'slow consumer (stale)'
  | 'slow consumer (blocked)'
  | 'slow consumer (worker link)'
  | 'slow consumer (worker loopback)'
  | 'slow consumer (websocket pongs)'
  | 'stale connection'
  | 'authentication timeout'
  | 'authorization violation'
  | 'maximum connections exceeded'
  | 'transport error'
