// Used by reports/broker/websocket-pongs.md:  node reports/broker/websocket-pongs/burst.mjs <ws port> [pings, 200]
// A client that reads everything sends its pings in one burst: does it get every pong, or is it cut off?
import WebSocket from 'ws'
const [port, pings = 200] = process.argv.slice(2).map(Number)
const ws = new WebSocket(`ws://127.0.0.1:${port}`)
let pongs = 0
ws.on('open', () => { for (let i = 0; i < pings; i++) ws.ping(String(i)) })
ws.on('pong', () => { if (++pongs === pings) { console.log(`${pings} pings in one burst: every pong came back, the connection open`); ws.close() } })
ws.on('close', () => {
  if (pongs < pings) console.log(`${pings} pings in one burst: closed by the broker after ${pongs} pongs`)
  process.exit(0)
})
