/**
 * How fast a subject gets into a delivery's MSG line, four ways, for subjects of 16 to 64
 * bytes: the string written a character at a time (`charCodeAt`), the string through Buffer's
 * native `latin1Write`, its bytes copied a byte at a time, and its bytes copied with one
 * `TypedArray#set` of the whole source Buffer (what RoutedMessage.writeLine does when the
 * router gave it the subject's bytes). Strings are flat, as the parser's interned subjects are.
 * Each way runs twice, interleaved; ns per copy.
 *
 *   node bench/micro/subject-copy.mjs
 */
import { Buffer } from 'node:buffer'
import process from 'node:process'

const COPIES = 5_000_000
const out = Buffer.allocUnsafe(1 << 16)

const ways = {
  'string, charCodeAt': (b, at, s) => { const n = s.length; for (let i = 0; i < n; i++) b[at + i] = s.charCodeAt(i); return at + n },
  'string, latin1Write': (b, at, s) => { b.latin1Write(s, at); return at + s.length },
  'bytes, a byte at a time': (b, at, s) => { const n = s.length; for (let i = 0; i < n; i++) b[at + i] = s[i]; return at + n },
  'bytes, set': (b, at, s) => { b.set(s, at); return at + s.length }
}

process.stdout.write('| subject bytes | ' + Object.keys(ways).join(' | ') + ' |\n')
process.stdout.write('|---|' + Object.keys(ways).map(() => '---|').join('') + '\n')
for (const len of [16, 24, 33, 48, 64]) {
  const strings = Array.from({ length: 64 }, (_, k) =>
    Buffer.from(('trade.venue.' + 'x'.repeat(len)).slice(0, len - 2) + String(k).padStart(2, '0'), 'latin1').latin1Slice())
  const bytes = strings.map((s) => Buffer.from(s, 'latin1'))
  const best = {}
  for (let round = 0; round < 2; round++) {
    for (const [name, copy] of Object.entries(ways)) {
      const source = name.startsWith('string') ? strings : bytes
      let at = 0
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < COPIES; i++) { at = copy(out, at, source[i & 63]); if (at > 60_000) at = 0 }
      const ns = Number(process.hrtime.bigint() - t0) / COPIES
      best[name] = Math.min(best[name] ?? Infinity, ns)
    }
  }
  process.stdout.write(`| ${len} | ` + Object.keys(ways).map((n) => best[n].toFixed(1)).join(' | ') + ' |\n')
}
