#!/bin/bash
# steady-80k.sh <label> <tickfan|nats-server> <step.json>: perf stat and strace -c of the capped broker, 16-22 s into a one-step run (as root)
set -euo pipefail
cd "$(dirname "$0")/../../.."
label=$1; target=$2; step=$3
out=/tmp/steady-80k/$label; rm -rf "$out"; mkdir -p "$out"
if [ "$target" = tickfan ]; then P="$PWD/dist/broker.mjs --workers"; X=-f; else P=nats-server; X=-x; fi
(TICKFAN_BROKER_NODE_ARGS="${EXTRA:-}" npx tsx bench/suite.ts --workloads "$step" --targets $target --repeat 1 --http-seconds 0 --broker-cpu 0.25 --stamp x --out "$out/run" > "$out/log" 2>&1 &)
pid=''
for _ in $(seq 1 200); do pid=$(pgrep $X "$P" | head -1 || true); [ -n "$pid" ] && break; sleep 0.1; done
sleep 16
perf stat -e task-clock,page-faults,context-switches,cpu-migrations -p $pid -o $out/stat.txt -- sleep 3 >/dev/null 2>&1
timeout 3 strace -c -f -p $pid -o $out/strace.txt >/dev/null 2>&1 || true
while pgrep -f "bench/suite.ts" > /dev/null; do sleep 1; done
node -e '
  const s = require(process.argv[1]).scenarios[0]
  console.log(`${process.argv[2]}: delivered ${Math.round(s.deliveredRate)}/s, ${s.broker.cpuSecondsPerMillionDeliveries.toFixed(3)} s per million, p99 ${(s.fast.latencyUs.p99 / 1000).toFixed(1)} ms`)' \
  "$out/run/x/results.json" "$label"
grep -E "task-clock|page-faults|context" $out/stat.txt
head -15 $out/strace.txt
