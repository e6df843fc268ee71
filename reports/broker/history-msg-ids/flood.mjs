// node flood.mjs <port> <seconds> <id bytes>: trades on trade.binance.BTC-USD, each with a
// Nats-Msg-Id of <id bytes> (distinct), as fast as the broker takes them for <seconds>, from one
// raw connection paced by a PING every 16 messages; prints how many it sent.
import net from 'node:net'

const [port, seconds, idBytes] = process.argv.slice(2).map(Number)
const socket = net.connect(port, '127.0.0.1')
await new Promise((resolve) => socket.once('data', resolve))
socket.write('CONNECT {"verbose":false,"headers":true}\r\n')
let pongs = 0
socket.on('data', (d) => { pongs += (String(d).match(/PONG/g) ?? []).length })
const pad = 'x'.repeat(idBytes)
const body = '{"v":1,"type":"trade","venue":"binance","symbol":"BTC-USD","price":1,"size":1,"side":"buy","tradeId":"1","seq":1,"venueTime":0,"recvTime":0,"pubTime":0,"pubMono":0}'
const until = Date.now() + seconds * 1000
let sent = 0
let pings = 0
while (Date.now() < until) {
  const block = `NATS/1.0\r\nNats-Msg-Id: ${sent}-${pad}\r\n\r\n`
  socket.write(`HPUB trade.binance.BTC-USD ${block.length} ${block.length + body.length}\r\n${block}${body}\r\n`)
  if (++sent % 16 === 0) {
    socket.write('PING\r\n')
    pings++
    while (pongs < pings - 1) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}
console.log(`flood: ${sent} trades with ids of ${idBytes} bytes in ${seconds} s`)
socket.end()
