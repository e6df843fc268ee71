/**
 * The `--auth` file: who may connect (nats-server's `authorization` block and `no_auth_user`,
 * as JSON) and the monitoring endpoints' credentials. Read once at start; any mistake stops
 * the broker with a message that names the file and the place.
 *
 *   {
 *     "authorization": {
 *       "users": [
 *         { "user": "feeds", "password": "$2a$11$...", "permissions": { "publish": ["quote.>", "trade.>"] } },
 *         { "user": "viewer", "password": "viewer", "permissions": { "publish": [], "subscribe": [">"] } }
 *       ],
 *       "no_auth_user": "viewer"
 *     },
 *     "monitoring": { "user": "ops", "password": "$2a$11$..." }
 *   }
 */
import { readFileSync } from 'node:fs'
import { Authenticator, type AuthorizationConfig } from './auth.ts'

export interface AuthFile {
  authorization: AuthorizationConfig | null
  monitoringAuth: { user: string, password: string } | null
}

export function parseAuthFile (text: string, where: string): AuthFile {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON object`)
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (key !== 'authorization' && key !== 'monitoring') throw new Error(`${where}: unknown key ${JSON.stringify(key)} (expected authorization, monitoring)`)
  }
  const authorization = (o.authorization ?? null) as AuthorizationConfig | null
  if (authorization !== null) {
    if (typeof authorization !== 'object' || Array.isArray(authorization)) throw new Error(`${where}: authorization must be an object`)
    try {
      void new Authenticator(authorization) // validates users, passwords, permissions
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`)
    }
  }
  const m = o.monitoring as Record<string, unknown> | undefined
  if (m !== undefined && (m === null || typeof m !== 'object' || typeof m.user !== 'string' || m.user === '' || typeof m.password !== 'string')) {
    throw new Error(`${where}: monitoring must be { "user": "...", "password": "..." }`)
  }
  return {
    authorization,
    monitoringAuth: m === undefined ? null : { user: m.user as string, password: m.password as string }
  }
}

export function loadAuthFile (path: string): AuthFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`)
  }
  return parseAuthFile(text, path)
}
