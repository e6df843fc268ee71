// node clients.mjs <port> <count>: <count> raw NATS clients, 20 at a time, all held open until the end;
// prints how many were served (PONG), refused (-ERR 'maximum connections exceeded') or cut off (closed, nothing said).
import net from 'node:net'
const [port, count] = process.argv.slice(2).map(Number)
const sockets = []
function outcome () {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    sockets.push(socket)
    let text = ''
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (text.includes("-ERR 'maximum connections exceeded'")) resolve('refused')
      else if (text.includes('PONG\r\n')) resolve('served')
      else if (text.startsWith('INFO ') && text.includes('\r\n')) socket.write('CONNECT {"verbose":false}\r\nPING\r\n')
    })
    socket.once('close', () => resolve(text.includes("-ERR 'maximum connections exceeded'") ? 'refused' : 'cut off'))
  })
}
const outcomes = []
for (let done = 0; done < count; done += 20) {
  outcomes.push(...await Promise.all(Array.from({ length: Math.min(20, count - done) }, outcome)))
}
const tally = { served: 0, refused: 0, 'cut off': 0 }
for (const o of outcomes) tally[o]++
console.log(`${count} clients: served ${tally.served}, refused with a reason ${tally.refused}, cut off without a word ${tally['cut off']}`)
for (const s of sockets) s.destroy()
