// Used by reports/broker/max-throughput-capped.md ("A payload view without Buffer#subarray"): ns per 128-byte view
// of a 64 KiB chunk, made four ways, three rounds. node reports/broker/max-throughput-capped/payload-view-micro.mjs
const chunk = Buffer.allocUnsafe(65536)
const N = 2e7
let sink = 0
function a () { let s = 0; for (let i = 0; i < N; i++) { const at = (i * 97) & 0x7fff; const v = chunk.subarray(at, at + 128); s += v.length + v[0] } return s }
function b () { const ab = chunk.buffer, base = chunk.byteOffset; let s = 0; for (let i = 0; i < N; i++) { const at = (i * 97) & 0x7fff; const v = Buffer.from(ab, base + at, 128); s += v.length + v[0] } return s }
function c () { const ab = chunk.buffer, base = chunk.byteOffset; let s = 0; for (let i = 0; i < N; i++) { const at = (i * 97) & 0x7fff; const v = new Uint8Array(ab, base + at, 128); s += v.length + v[0] } return s }
for (let r = 0; r < 3; r++) for (const [n, f] of [['subarray', a], ['Buffer.from(ab)', b], ['new Uint8Array(ab)', c]]) { const t = process.hrtime.bigint(); sink += f(); console.log(r, n, (Number(process.hrtime.bigint() - t) / N).toFixed(1), 'ns') }
class View extends Uint8Array {}
Object.setPrototypeOf(View.prototype, Buffer.prototype)
function d () { const ab = chunk.buffer, base = chunk.byteOffset; let s = 0; for (let i = 0; i < N; i++) { const at = (i * 97) & 0x7fff; const v = new View(ab, base + at, 128); s += v.length + v[0] } return s }
const probe = new View(chunk.buffer, chunk.byteOffset, 4)
console.log('isBuffer', Buffer.isBuffer(probe), probe.toString('latin1').length, probe instanceof Buffer)
for (let r = 0; r < 3; r++) for (const [n, f] of [['subarray', a], ['View', d], ['new Uint8Array(ab)', c]]) { const t = process.hrtime.bigint(); sink += f(); console.log(r, n, (Number(process.hrtime.bigint() - t) / N).toFixed(1), 'ns') }
