import bcrypt from 'bcryptjs'
import { afterAll, describe, expect, it } from 'vitest'
import { Authenticator, LoginThrottle } from './auth.ts'
import { MAX_QUEUED_CHECKS, PasswordChecker } from './password-check.ts'

const HASH = bcrypt.hashSync('s3cret', 4)

describe('bcrypt checks in a worker thread', () => {
  const checker = new PasswordChecker()
  afterAll(async () => { await checker.close() })

  it('checks a password against a hash off the event loop', async () => {
    expect(await checker.check('s3cret', HASH)).toBe(true)
    expect(await checker.check('wrong', HASH)).toBe(false)
    expect(await checker.check('s3cret', 'not a hash')).toBe(false)
  })

  it('keeps the event loop free while checks run: a timer fires between them', async () => {
    const slow = bcrypt.hashSync('x', 10) // about 50-100 ms each
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 1)
    await Promise.all(Array.from({ length: 4 }, async () => await checker.check('y', slow)))
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(10) // on the loop, 4 compares would have held it for their whole length
  })

  it('refuses at once past MAX_QUEUED_CHECKS waiting, and never queues without bound', async () => {
    const slow = bcrypt.hashSync('x', 8)
    const all = Array.from({ length: MAX_QUEUED_CHECKS + 10 }, async () => await checker.check('y', slow))
    expect(checker.queued).toBe(MAX_QUEUED_CHECKS)
    await Promise.all(all)
    expect(checker.refused).toBe(10)
  })
})

describe('failed logins per address', () => {
  it('refuses an address unchecked after 10 failures in 10 s, until the window ends', () => {
    const t = new LoginThrottle()
    for (let i = 0; i < 10; i++) {
      expect(t.mayTry('10.0.0.1', 1000)).toBe(true)
      t.failed('10.0.0.1', 1000)
    }
    expect(t.mayTry('10.0.0.1', 5000)).toBe(false)
    expect(t.mayTry('10.0.0.2', 5000)).toBe(true) // others are not touched
    expect(t.mayTry('10.0.0.1', 11_000)).toBe(true)
  })

  it('counts checks still running: an address may have at most 10 checks and failures in all', () => {
    const t = new LoginThrottle()
    for (let i = 0; i < 10; i++) { expect(t.mayTry('10.0.0.3', 0)).toBe(true); t.checkStarted('10.0.0.3') }
    expect(t.mayTry('10.0.0.3', 0)).toBe(false)
    expect(t.mayTry('10.0.0.4', 0)).toBe(true)
    t.checked('10.0.0.3')
    t.failed('10.0.0.3', 0)
    expect(t.mayTry('10.0.0.3', 0)).toBe(false) // 9 running and 1 failed
    t.checked('10.0.0.3')
    expect(t.mayTry('10.0.0.3', 0)).toBe(true) // 8 running and 1 failed
  })

  it('denies the right password from an address that guessed too often, without a check', async () => {
    const auth = new Authenticator({ users: [{ user: 'u', password: HASH }] })
    for (let i = 0; i < 10; i++) expect((await auth.authenticate({ user: 'u', pass: 'guess' }, '10.0.0.9', 0)).ok).toBe(false)
    expect(auth.authenticate({ user: 'u', pass: 's3cret' }, '10.0.0.9', 1)).toEqual({ ok: false })
    expect((await auth.authenticate({ user: 'u', pass: 's3cret' }, '10.0.0.10', 1)).ok).toBe(true)
    await auth.close()
  })
})
