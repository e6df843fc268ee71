/**
 * `npm run passwd -- <password>` (or the password on stdin): prints its bcrypt hash for the
 * `--auth` file, as `nats server passwd` does for nats-server's config.
 */
import bcrypt from 'bcryptjs'
import { readFileSync } from 'node:fs'
import { runMain, UsageError } from '../lib/cli-options.ts'

const COST = 11 // nats-server's default

runMain(async () => {
  const arg = process.argv[2]
  if (arg === '--help' || arg === '-h') {
    process.stdout.write('Usage: npm run passwd -- <password>   (or: echo -n <password> | npm run passwd)\nPrints a bcrypt hash (cost 11) for a password in the --auth file.\n')
    return
  }
  const password = arg ?? (process.stdin.isTTY ? '' : readFileSync(0, 'utf8').replace(/\r?\n$/, ''))
  if (password === '') throw new UsageError('give the password as an argument or on stdin')
  process.stdout.write(`${await bcrypt.hash(password, COST)}\n`)
})
