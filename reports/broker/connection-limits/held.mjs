// node held.mjs <port> [seconds]: how long a server keeps (a) a socket that sends nothing and
// (b) one that sends an HTTP upgrade request a header line every 100 ms, never finishing it;
// each is given up after <seconds> (default 20). Prints each one's time and first line received.
import net from 'node:net'
const port = Number(process.argv[2])
const limitMs = Number(process.argv[3] ?? 20) * 1000
function held (behave) {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = net.connect(port, '127.0.0.1')
    let told = ''
    socket.on('data', (d) => { told += d.toString('latin1') })
    socket.on('error', () => {})
    socket.once('connect', () => behave(socket))
    const giveUp = setTimeout(() => { socket.destroy(); resolve(`still open after ${limitMs / 1000} s`) }, limitMs)
    socket.once('close', () => {
      clearTimeout(giveUp)
      resolve(`closed after ${((Date.now() - started) / 1000).toFixed(2)} s, told ${JSON.stringify(told.split('\r\n')[0])}`)
    })
  })
}
function drip (socket) {
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n')
  const timer = setInterval(() => { if (socket.destroyed) clearInterval(timer); else socket.write('X-Padding: 1\r\n') }, 100)
}
const [silent, dripping] = await Promise.all([held(() => {}), held(drip)])
console.log(`silent: ${silent}`)
console.log(`dripping an upgrade request: ${dripping}`)
