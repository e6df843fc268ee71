import { describe, expect, it } from 'vitest'
import { allowedOriginsProblem, originRefusal } from './ws-origin.ts'

describe('--ws-allowed-origins', () => {
  it.each([[['*']], [['loopback']], [['https://dash.example.com']], [['https://dash.example.com/']], [['http://a.example:8081', 'loopback']]])(
    'takes %j', (entries) => { expect(allowedOriginsProblem(entries)).toBeNull() })

  it.each([
    [[], 'give at least one entry (* for any origin)'],
    [['dash.example.com'], '"dash.example.com" is not *, loopback or an origin such as https://dash.example.com:8443'],
    [['https://dash.example.com/app'], '"https://dash.example.com/app" is not *, loopback or an origin such as https://dash.example.com:8443'],
    [['ftp://dash.example.com'], '"ftp://dash.example.com" is not *, loopback or an origin such as https://dash.example.com:8443']
  ])('refuses %j', (entries, reason) => { expect(allowedOriginsProblem(entries)).toBe(reason) })
})

describe('originRefusal', () => {
  it('serves a request without an Origin (not a browser), whatever the list', () => {
    expect(originRefusal(undefined, ['https://dash.example.com'])).toBeNull()
    expect(originRefusal('', ['loopback'])).toBeNull()
  })

  it.each(['http://127.0.0.1:8081', 'http://localhost', 'https://localhost:8443', 'http://[::1]:3000', 'http://127.3.2.1'])(
    'serves %s under loopback', (origin) => { expect(originRefusal(origin, ['loopback'])).toBeNull() })

  it.each(['http://evil.example', 'http://127.0.0.1.evil.example', 'http://localhost.evil.example', 'null', 'file://', 'http://10.0.0.1'])(
    'refuses %s under loopback, saying why', (origin) => {
      expect(originRefusal(origin, ['loopback'])).toBe(`origin ${JSON.stringify(origin)} is not allowed (--ws-allowed-origins loopback)`)
    })

  it('matches a listed origin on scheme, host and port, a default port left out, in any case', () => {
    const allowed = ['https://dash.example.com']
    expect(originRefusal('https://dash.example.com', allowed)).toBeNull()
    expect(originRefusal('https://dash.example.com:443', allowed)).toBeNull()
    expect(originRefusal('HTTPS://DASH.EXAMPLE.COM', allowed)).toBeNull()
    expect(originRefusal('http://dash.example.com', allowed)).not.toBeNull()
    expect(originRefusal('https://dash.example.com:8443', allowed)).not.toBeNull()
    expect(originRefusal('http://127.0.0.1:8081', allowed)).not.toBeNull() // loopback only when listed
  })

  it('serves any origin under *', () => {
    expect(originRefusal('http://evil.example', ['*'])).toBeNull()
  })
})
