import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allowedHostsProblem, ANY_HOST, hostRefusal } from './allowed-hosts.ts'

describe('hostRefusal', () => {
  it('serves addresses, localhost and requests without a Host, whatever the list', () => {
    for (const host of [undefined, '', '127.0.0.1', '127.0.0.1:8222', '10.1.2.3:80', '[::1]', '[::1]:8222', '[fe80::1]:3000',
      'localhost', 'localhost:8222', 'LOCALHOST:1', 'dash.localhost:3000', 'localhost.']) {
      expect(hostRefusal(host, []), String(host)).toBeNull()
    }
  })

  it('refuses any other name unless listed, and says which', () => {
    expect(hostRefusal('evil.example:8222', [])).toBe('host "evil.example:8222" is not allowed')
    expect(hostRefusal('evil.example', ['tickfan.example.com'])).toMatch(/not allowed/)
    expect(hostRefusal('localhost.evil.example', [])).toMatch(/not allowed/)
    expect(hostRefusal('127.0.0.1.evil.example', [])).toMatch(/not allowed/)
  })

  it('matches a listed name exactly, ignoring case, port and a trailing dot', () => {
    const allowed = ['tickfan.example.com']
    for (const host of ['tickfan.example.com', 'TICKFAN.example.COM:8222', 'tickfan.example.com.:80']) {
      expect(hostRefusal(host, allowed), host).toBeNull()
    }
    expect(hostRefusal('a.tickfan.example.com', allowed)).not.toBeNull()
    expect(hostRefusal('xtickfan.example.com', allowed)).not.toBeNull()
  })

  it('matches a domain and the names under it for an entry with a leading dot', () => {
    const allowed = ['.svc.cluster.local']
    expect(hostRefusal('svc.cluster.local', allowed)).toBeNull()
    expect(hostRefusal('tickfan.monitoring.svc.cluster.local:8222', allowed)).toBeNull()
    expect(hostRefusal('evilsvc.cluster.local', allowed)).not.toBeNull()
  })

  it('serves every name with *', () => {
    expect(hostRefusal('evil.example:8222', [ANY_HOST])).toBeNull()
  })

  it('refuses a Host it cannot read', () => {
    for (const host of ['evil.example:http', '[::1', '[::1]x', 'a:b:c', '127.0.0.1:99999999']) {
      expect(hostRefusal(host, ['a']), host).not.toBeNull()
    }
  })

  it('a name off the list is refused however it is written, a listed one served with any port', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)
    const name = fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.'))
      .filter((n) => n !== 'localhost' && !n.endsWith('.localhost'))
    const port = fc.integer({ min: 1, max: 65535 })
    fc.assert(fc.property(name, name, port, fc.boolean(), (listed, other, portNumber, upper) => {
      const asSent = (n: string): string => `${upper ? n.toUpperCase() : n}:${portNumber}`
      expect(hostRefusal(asSent(listed), [listed])).toBeNull()
      if (other !== listed) expect(hostRefusal(asSent(other), [listed])).not.toBeNull()
    }))
  })
})

describe('allowedHostsProblem', () => {
  it('takes *, names and domains with a leading dot', () => {
    expect(allowedHostsProblem([])).toBeNull()
    expect(allowedHostsProblem(['*', 'tickfan.example.com', '.example.com', 'broker_1', 'HOST.'])).toBeNull()
  })

  it('refuses what is not a name, saying what it wants', () => {
    for (const entry of ['http://tickfan.example.com', 'tickfan.example.com:8222', '', 'a b', '..', '*.example.com', '-a']) {
      expect(allowedHostsProblem([entry]), entry).toMatch(/is not \*, a host name such as tickfan\.example\.com/)
    }
  })
})
