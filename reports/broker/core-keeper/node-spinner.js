// register-only fixed work: prints wall time (s) and work units done per 100 ms of this thread's own CPU
const { performance } = require('node:perf_hooks')
const fs = require('node:fs')
const out = process.argv[2]
let lines = []
const t0 = Date.now()
function unit () { let h = 1; for (let i = 0; i < 20000; i++) h = (Math.imul(h, 31) + i) | 0; return h }
let sink = 0
setInterval(() => { fs.writeFileSync(out, lines.join('\n')) }, 1000)
;(function loop () {
  const c0 = process.cpuUsage(); let n = 0
  const w0 = Date.now()
  while (true) {
    for (let k = 0; k < 20; k++) { sink ^= unit(); n++ }
    const c = process.cpuUsage(c0)
    if (c.user + c.system >= 100000) break
  }
  lines.push(`${((Date.now() - t0) / 1000).toFixed(2)} ${n} ${Date.now() - w0}`)
  setImmediate(loop)
})()
