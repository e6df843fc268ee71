// The share of its cap each broker used in each max-throughput step of a suite summary written
// before the summary said so itself: window CPU per delivery x deliveries/s / the cap.
// Usage: node reports/broker/capped-lead-checks/cap-use.mjs <summary.md>@<cap share> ...
import { readFileSync } from 'node:fs'

for (const [file, cap] of process.argv.slice(2).map((a) => a.split('@'))) {
  const rows = readFileSync(file, 'utf8').split('\n').filter((l) => /^\| (tickfan|nats-server) \| max-throughput .*\/s/.test(l))
  const byTarget = {}
  for (const line of rows) {
    const cells = line.split('|').map((s) => s.trim())
    const rate = Number(/([\d,]+)\/s(, 1 worker)?$/.exec(cells[2])[1].replace(/,/g, ''))
    const delivered = Number(cells[4].replace(/,/g, ''))
    const windowCpu = Number(cells[19].split('/')[1])
    ;(byTarget[cells[1]] ??= []).push([rate, Math.round(windowCpu * delivered / 1e6 / Number(cap) * 100)])
  }
  console.log(`${file.split('/').pop()}, cap ${cap} of a core`)
  for (const [target, steps] of Object.entries(byTarget)) {
    const all = steps.map((s) => s[1]).sort((a, b) => a - b)
    const low = steps.filter((s) => s[0] <= 40000).map((s) => `${s[0] / 1000}k ${s[1]}%`)
    console.log(`  ${target}: ${steps.length} runs; % of the cap used in the window: min ${all[0]}, median ${all[all.length >> 1]}, max ${all[all.length - 1]}; at 20,000-40,000 msgs/s: ${low.join(', ')}`)
  }
}
