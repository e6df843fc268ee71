// From suite summaries of max-throughput searches under --broker-cpu: the share of its cap each
// broker used in each step's window (window CPU per delivery x deliveries/s / the cap; summaries
// since 4bf3c4b also print it), and every step whose load gave out, with the cap it used then.
// Usage: node reports/broker/capped-lead-checks/cap-use.mjs <summary.md>@<cap share> ...
import { readFileSync } from 'node:fs'

for (const [file, cap] of process.argv.slice(2).map((a) => a.split('@'))) {
  const rows = readFileSync(file, 'utf8').split('\n').filter((l) => /^\| (tickfan|nats-server) \| max-throughput .*\/s/.test(l))
  const byTarget = {}
  const gaveOut = []
  for (const line of rows) {
    const cells = line.split('|').map((s) => s.trim())
    const rate = Number(/([\d,]+)\/s(, 1 worker)?$/.exec(cells[2])[1].replace(/,/g, ''))
    const delivered = Number(cells[4].replace(/,/g, ''))
    const windowCpu = Number(cells[19].split('/')[1].split(',')[0])
    const used = Math.round(windowCpu * delivered / 1e6 / Number(cap) * 100)
    ;(byTarget[cells[1]] ??= []).push([rate, used])
    if (cells[22].startsWith('no')) gaveOut.push(`${cells[1]} at ${rate / 1000}k: ${used}% of its cap, delivered ${(delivered / 2 / rate * 100).toFixed(0)}% of offered, p99 ${cells[7]}; ${cells[22].slice(4)}`)
  }
  console.log(`${file.split('/').pop()}, cap ${cap} of a core`)
  for (const [target, steps] of Object.entries(byTarget)) {
    const all = steps.map((s) => s[1]).sort((a, b) => a - b)
    const low = steps.filter((s) => s[0] <= 40000).map((s) => `${s[0] / 1000}k ${s[1]}%`)
    console.log(`  ${target}: ${steps.length} runs; % of the cap used in the window: min ${all[0]}, median ${all[all.length >> 1]}, max ${all[all.length - 1]}; at 20,000-40,000 msgs/s: ${low.join(', ')}`)
  }
  for (const g of gaveOut) console.log(`  invalid: ${g}`)
}
