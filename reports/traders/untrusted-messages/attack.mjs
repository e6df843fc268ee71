// node attack.mjs <port>: what probe.sh sends, from raw NATS connections. Three messages, once
// each, and a rogue price responder answering `garbage` to every price request for 6 s.
import net from 'node:net'

const port = Number(process.argv[2])
const now = Date.now()
const quote = JSON.stringify({ v: 1, type: 'quote', venue: 'binance', symbol: 'BTC-USD', bid: 1, bidSize: 1, ask: 2, askSize: 1, venueSeq: null, seq: 1, venueTime: now, recvTime: now, pubTime: now, pubMono: 0 })
const block = 'NATS/1.0\r\nbad key: x\r\n\r\n'

const messages = net.connect(port, '127.0.0.1')
messages.once('data', () => {
  messages.write('CONNECT {"verbose":false,"headers":true}\r\n' +
    `HPUB quote.binance.BTC-USD ${block.length} ${block.length + quote.length}\r\n${block}${quote}\r\n` +
    'PUB stats.traders.evil 2\r\n{}\r\n' +
    'PUB signal.arbitrage.BTC-USD 2\r\n{}\r\n' +
    'PING\r\n')
  messages.on('data', (d) => { if (String(d).includes('PONG')) messages.end() })
})

// MSG <subject> <sid> <reply> <size>: answer the reply subject with `garbage`.
const responder = net.connect(port, '127.0.0.1')
let input = ''
responder.once('data', () => {
  responder.write('CONNECT {"verbose":false}\r\nSUB price.* 1\r\n')
  responder.on('data', (d) => {
    input += d.toString('latin1')
    for (const m of input.matchAll(/MSG \S+ 1 (\S+) \d+\r\n/g)) responder.write(`PUB ${m[1]} 7\r\ngarbage\r\n`)
    input = input.slice(input.lastIndexOf('\r\n') + 2)
    if (input.includes('PING')) responder.write('PONG\r\n')
  })
  setTimeout(() => responder.destroy(), 6000)
})
