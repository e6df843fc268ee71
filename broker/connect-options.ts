/** CONNECT's options, as nats-server reads them: missing or mistyped fields take its defaults. */

export interface ConnectOptions {
  verbose: boolean
  pedantic: boolean
  echo: boolean
  headers: boolean
  noResponders: boolean
  /** 1: the client takes INFO updates at any time (lame-duck mode tells it with one). */
  protocol: number
  name: string
  lang: string
  version: string
}

/** nats-server's defaults for a client that has not sent CONNECT (or omits fields). */
export const DEFAULT_CONNECT_OPTIONS: Readonly<ConnectOptions> = Object.freeze({
  verbose: true, pedantic: true, echo: true, headers: false, noResponders: false, protocol: 0, name: '', lang: '', version: ''
})

/** CONNECT's JSON as an object (options and credentials), or null when it is not one. */
export function parseConnectJson (json: string): Record<string, unknown> | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return null
  }
  return parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) ? null : parsed as Record<string, unknown>
}

export function connectOptions (o: Record<string, unknown>): ConnectOptions {
  const flag = (key: string, fallback: boolean): boolean => (typeof o[key] === 'boolean' ? o[key] : fallback)
  const text = (key: string): string => (typeof o[key] === 'string' ? o[key] : '')
  return {
    verbose: flag('verbose', true),
    pedantic: flag('pedantic', true),
    echo: flag('echo', true),
    headers: flag('headers', false),
    noResponders: flag('no_responders', false),
    protocol: typeof o.protocol === 'number' ? o.protocol : 0,
    name: text('name'),
    lang: text('lang'),
    version: text('version')
  }
}
