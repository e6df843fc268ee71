// node attempt.mjs <ws url>: opens the broker's WebSocket as three kinds of client would, and
// prints what each got: a browser page of another site (Origin http://evil.example), a page of
// this machine (Origin http://127.0.0.1:8081, the dashboard's), and a client that is no browser
// (no Origin). A page that gets INFO then publishes a quote and says whether its PING came back.
import WebSocket from 'ws'

const url = process.argv[2]
for (const origin of ['http://evil.example', 'http://127.0.0.1:8081', undefined]) {
  const got = await new Promise((resolve) => {
    const ws = new WebSocket(url, origin === undefined ? {} : { origin })
    ws.once('message', () => {
      const quote = '{"v":1,"type":"quote","venue":"binance","symbol":"EVIL-USD","bid":1,"bidSize":1,"ask":2,"askSize":1,"venueSeq":null,"seq":1,"venueTime":0,"recvTime":0,"pubTime":0,"pubMono":0}'
      ws.send(`CONNECT {"verbose":false}\r\nPUB quote.binance.EVIL-USD ${quote.length}\r\n${quote}\r\nPING\r\n`)
      ws.on('message', (d) => { if (String(d).includes('PONG')) { resolve('INFO, then published a quote'); ws.close() } })
    })
    ws.once('unexpected-response', (_req, res) => { resolve(`HTTP ${res.statusCode} before the upgrade`); res.resume() })
    ws.once('error', (err) => resolve(`error: ${err.message}`))
  })
  console.log(`  ${origin === undefined ? 'no Origin (not a browser)' : `Origin ${origin}`}: ${got}`)
}
