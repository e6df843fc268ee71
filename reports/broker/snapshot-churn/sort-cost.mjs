// Used by reports/broker/snapshot-churn.md:  node reports/broker/snapshot-churn/sort-cost.mjs
// What a sort of 100,000 subjects that entered in no order costs, with and without a comparer: five rounds.
const subjects = () => Array.from({ length: 100000 }, () => `quote.churn.S${Math.floor(Math.random() * 1e9)}`)
const time = (f) => { const s = performance.now(); f(); return (performance.now() - s).toFixed(1) }
for (let r = 0; r < 5; r++) {
  const a = subjects()
  const b = a.slice()
  console.log(`round ${r}: sort() ${time(() => a.sort())} ms, sort with a comparer ${time(() => b.sort((x, y) => x < y ? -1 : x > y ? 1 : 0))} ms`)
}
