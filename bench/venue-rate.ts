/**
 * `npm run bench:venue -- --rate 60000`: how many messages one simulated venue emits per
 * second to one subscribed client (both in this process), and whether it keeps to schedule.
 */
import WebSocket from 'ws'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { VENUE_CLIENTS } from '../feeds/handlers/feed-handler.ts'
import { DEFAULT_INSTRUMENTS, VENUES, type Venue } from '../feeds/instruments.ts'
import { startVenueServer } from '../feeds/venues/venue-server.ts'

const CLI = {
  venue: { type: 'string', default: 'binance', choices: [...VENUES], help: 'Venue format' },
  rate: { type: 'integer', default: 60_000, min: 1, help: 'Offered messages per second' },
  seconds: { type: 'number', default: 5, min: 1, help: 'Measured seconds (after 1 s of warm-up)' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run bench:venue --', 'Messages per second one simulated venue emits.', CLI)); return }
  const venue = o.venue as Venue
  if (!(VENUES as readonly string[]).includes(venue)) throw new UsageError(`unknown venue ${venue}`)
  const server = await startVenueServer({
    venue,
    instruments: DEFAULT_INSTRUMENTS,
    ratePerSec: o.rate,
    seed: 1,
    bursts: null
  })
  const client = VENUE_CLIENTS[venue]
  const ws = new WebSocket(server.url + client.path)
  let received = 0
  ws.on('open', () => { for (const m of client.subscribeMessages(DEFAULT_INSTRUMENTS)) ws.send(m) })
  ws.on('message', () => { received++ })
  await new Promise((r) => setTimeout(r, 1000))
  received = 0
  const sent0 = server.stats.messagesSent
  await new Promise((r) => setTimeout(r, o.seconds * 1000))
  const sent = (server.stats.messagesSent - sent0) / o.seconds
  process.stdout.write(`${venue} venue, offered ${o.rate.toLocaleString('en-US')} msgs/s: emitted ${Math.round(sent).toLocaleString('en-US')} msgs/s, client received ${Math.round(received / o.seconds).toLocaleString('en-US')} msgs/s, behind schedule ${server.stats.lagMs} ms\n`)
  ws.close()
  await server.close()
})
