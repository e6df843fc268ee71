/**
 * The credentials every tickfan NATS client (feeds, services, traders) takes: `--nats-user` and
 * `--nats-pass`, or NATS_USER and NATS_PASSWORD from the environment, which keeps a password
 * off the process list (`npm start` hands its components their credentials that way).
 */
import type { OptionTable } from './cli-options.ts'

export const NATS_CREDENTIALS_CLI = {
  natsUser: { type: 'string', default: '', help: 'NATS user when the server requires one (or NATS_USER in the environment)' },
  natsPass: { type: 'string', default: '', help: 'NATS password (or NATS_PASSWORD in the environment, kept off the process list)' }
} satisfies OptionTable

export interface NatsCredentials {
  user?: string
  pass?: string
}

export function natsCredentials (
  o: { natsUser: string, natsPass: string },
  env: NodeJS.ProcessEnv = process.env
): NatsCredentials {
  const user = o.natsUser !== '' ? o.natsUser : env.NATS_USER ?? ''
  const pass = o.natsPass !== '' ? o.natsPass : env.NATS_PASSWORD ?? ''
  return user === '' ? {} : { user, pass }
}
