// node flood.mjs <port> <symbols> <first>: quotes for <symbols> distinct valid instruments
// (S<first>-USD, S<first + 1>-USD, ...) on binance and kraken, from one raw connection, paced
// by a PING every 2,000 quotes; prints how long it took.
import net from 'node:net'

const [port, symbols, first] = process.argv.slice(2).map(Number)
const socket = net.connect(port, '127.0.0.1')
await new Promise((resolve) => socket.once('data', resolve))
socket.write('CONNECT {"verbose":false}\r\n')
let pongs = 0
socket.on('data', (d) => { pongs += (String(d).match(/PONG/g) ?? []).length })
const started = Date.now()
let sent = 0
let pings = 0
{
  const r = 0
  for (let i = first; i < first + symbols; i++) {
    for (const venue of ['binance', 'kraken']) {
      const now = Date.now()
      const bid = 100 + r + (venue === 'kraken' ? 0.5 : 0)
      const q = JSON.stringify({ v: 1, type: 'quote', venue, symbol: `S${i}-USD`, bid, bidSize: 1, ask: bid + 1, askSize: 1, venueSeq: null, seq: i + 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0 })
      socket.write(`PUB quote.${venue}.S${i}-USD ${q.length}\r\n${q}\r\n`)
      if (++sent % 2000 === 0) {
        socket.write('PING\r\n')
        pings++
        while (pongs < pings - 2) await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
  }
}
socket.write('PING\r\n')
pings++
while (pongs < pings) await new Promise((resolve) => setTimeout(resolve, 5))
console.log(`flood: ${sent} quotes for instruments S${first}-USD to S${first + symbols - 1}-USD in ${((Date.now() - started) / 1000).toFixed(1)} s`)
socket.end()
