/**
 * A GET over plain `node:http` with the headers given, `Host` included: fetch() sends the URL's
 * own host, so a test that must send another (DNS rebinding, lib/allowed-hosts.ts) uses this.
 */
import http from 'node:http'

/** GET `path` on 127.0.0.1:`port` with `host` as the Host header: status and body. */
export async function getWithHost (
  port: number, path: string, host: string, headers: http.OutgoingHttpHeaders = {}
): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { ...headers, host }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
}
