/**
 * How many requests the dashboard's /api/varz sends to the broker's /varz under a flood of its
 * own callers. Usage (from a checkout's root, with this file's path):
 *   npx tsx <this file> <checkout>
 * A counting stand-in for the broker's /varz (5 ms per answer), the dashboard of <checkout> in
 * front of it, autocannon with 20 connections for 3 s on /api/varz.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'

const checkout = path.resolve(process.argv[2] ?? '.')
const { startDashboard } = await import(pathToFileURL(path.join(checkout, 'dashboard/server.ts')).href) as typeof import('../../../dashboard/server.ts')
let hits = 0
const varz = http.createServer((_req, res) => {
  hits++
  setTimeout(() => { res.setHeader('content-type', 'application/json'); res.end('{"server_id":"stand-in","out_msgs":1}') }, 5)
})
await new Promise<void>((resolve) => varz.listen(0, '127.0.0.1', resolve))
const varzUrl = `http://127.0.0.1:${(varz.address() as AddressInfo).port}/varz`
const dashboard = await startDashboard({ port: 0, wsUrl: 'ws://127.0.0.1:1', varzUrl })
const result = await autocannon({ url: `${dashboard.url}/api/varz`, connections: 20, duration: 3 })
await dashboard.close()
varz.close()
const ok = result['2xx']
process.stdout.write(`checkout ${path.basename(checkout)}: ${ok.toLocaleString('en-US')} answers of /api/varz (non-2xx ${result.non2xx}), ` +
  `${hits.toLocaleString('en-US')} requests to the broker's /varz: ${(hits / Math.max(1, ok)).toFixed(3)} per answer\n`)
