/**
 * The users `npm start` runs with: each component may do only its job. The feed handlers alone
 * may publish quotes and trades (and ask how old the trade history is, to fill it after a
 * broker restart); the services publish what they derive and answer price
 * requests; the bots publish their stats, ask for prices and read the trade history (the
 * JetStream requests of an ordered consumer on stream `trades`); and a client without credentials
 * (the dashboard, anyone watching) acts as `viewer`: it may subscribe to everything and request
 * prices, never move them. Passwords are random per run, stored as bcrypt hashes in the
 * broker's --auth file, and handed to each component in its environment (not on the command
 * line, where `ps` would show them).
 */
import { randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'
import type { AuthorizationConfig, UserPermissions } from '../broker/auth.ts'
import { ALERTS_SUBJECT, ARBITRAGE_PREFIX } from './services.ts'
import { STATS_SUBJECT_PREFIX } from './stats.ts'

export type DemoRole = 'feeds' | 'services' | 'traders'

/** What reading the trade history with an ordered consumer publishes (traders/history-fill.ts). */
export const HISTORY_READER = [
  '$JS.API.STREAM.INFO.trades',
  '$JS.API.CONSUMER.CREATE.trades.>',
  '$JS.API.CONSUMER.MSG.NEXT.trades.>',
  '$JS.API.CONSUMER.DELETE.trades.>'
]

export const DEMO_PERMISSIONS: Record<DemoRole | 'viewer', UserPermissions> = {
  feeds: { publish: ['quote.>', 'trade.>', '$JS.API.STREAM.INFO.trades'], subscribe: ['_INBOX.>'] },
  services: {
    publish: ['bbo.>', `${ARBITRAGE_PREFIX}.>`, ALERTS_SUBJECT],
    subscribe: ['quote.>', 'trade.>', 'price.>', '_INBOX.>'],
    allow_responses: true
  },
  traders: { publish: [`${STATS_SUBJECT_PREFIX}.>`, 'price.>', ...HISTORY_READER], subscribe: ['>'] },
  viewer: { publish: ['price.>'], subscribe: ['>'] }
}

export interface DemoUsers {
  /** The broker's authorization block. */
  authorization: AuthorizationConfig
  /** Each component's credentials, as environment variables for its process. */
  env: Record<DemoRole, { NATS_USER: string, NATS_PASSWORD: string }>
}

export async function demoUsers (): Promise<DemoUsers> {
  const roles: DemoRole[] = ['feeds', 'services', 'traders']
  const passwords = Object.fromEntries(roles.map((r) => [r, randomBytes(18).toString('base64url')])) as Record<DemoRole, string>
  const users = await Promise.all(roles.map(async (role) => ({
    user: role,
    password: await bcrypt.hash(passwords[role], 10),
    permissions: DEMO_PERMISSIONS[role]
  })))
  return {
    authorization: {
      users: [...users, { user: 'viewer', password: randomBytes(18).toString('base64url'), permissions: DEMO_PERMISSIONS.viewer }],
      no_auth_user: 'viewer'
    },
    env: Object.fromEntries(roles.map((r) => [r, { NATS_USER: r, NATS_PASSWORD: passwords[r] }])) as DemoUsers['env']
  }
}
