/**
 * What a 150-byte view of a 64 KiB buffer costs to make, four ways, in ns (20 million each,
 * three rounds): `buf.subarray()`; a subclass of Uint8Array whose prototype's prototype is
 * Buffer.prototype, made from `buf.buffer` read each time; the same from an ArrayBuffer read
 * once; `Buffer.from(arrayBuffer, offset, length)` from an ArrayBuffer read once.
 *
 *   node reports/broker/buffer-views/view-cost.mjs
 */
const buf = Buffer.allocUnsafeSlow(65536)
const N = 2e7
class View extends Uint8Array {}
Object.setPrototypeOf(View.prototype, Buffer.prototype)
let sink = 0
const ways = {
  subarray () {
    let s = 0
    for (let i = 0; i < N; i++) { const o = (i * 172) & 0x7fff; s += buf.subarray(o, o + 150).length }
    return s
  },
  'view, buf.buffer each time' () {
    let s = 0
    for (let i = 0; i < N; i++) { const o = (i * 172) & 0x7fff; s += new View(buf.buffer, buf.byteOffset + o, 150).length }
    return s
  },
  'view, ArrayBuffer read once' () {
    let s = 0
    const ab = buf.buffer
    const base = buf.byteOffset
    for (let i = 0; i < N; i++) { const o = (i * 172) & 0x7fff; s += new View(ab, base + o, 150).length }
    return s
  },
  'Buffer.from(ArrayBuffer read once)' () {
    let s = 0
    const ab = buf.buffer
    const base = buf.byteOffset
    for (let i = 0; i < N; i++) { const o = (i * 172) & 0x7fff; s += Buffer.from(ab, base + o, 150).length }
    return s
  }
}
for (let r = 1; r <= 3; r++) {
  for (const [name, way] of Object.entries(ways)) {
    const t0 = process.hrtime.bigint()
    sink += way()
    console.log(`round ${r}: ${name}: ${(Number(process.hrtime.bigint() - t0) / N).toFixed(1)} ns`)
  }
}
if (sink === 0) console.log('')
