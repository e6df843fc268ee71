#!/bin/bash
# An on-CPU profile of one broker under the suite's quarter-core cap: `perf record` samples the
# broker process (every thread) at 2 kHz of CPU time for 6 s, 12 s into a one-step capped run,
# then prints the run's delivered/s, CPU per million deliveries and p99, and the samples by
# binary and by symbol. Unlike `--cpu-prof` (wall-clock samples, so whatever runs when the quota
# stops the process is charged the stop), it counts only time on a CPU. JavaScript symbols come
# from --perf-basic-prof-only-functions; a code address V8 reused can carry an older name.
# Needs root (the cap) and perf.
#
#   bash reports/broker/history-fill/perf-record.sh <label> <step.json> [<root>] [<broker args>]
#
# <root>: a folder whose broker/main.ts runs in tickfan's place (TICKFAN_BROKER_ROOT), e.g.
# bench/floor; empty: this checkout. Output in /tmp/perf-record/<label>/ (perf.data, top.txt).
# PERF_FROM (seconds after the broker appears, default 12) and PERF_SECONDS (default 6) move the
# window: PERF_FROM=0 PERF_SECONDS=10 takes its start, and `node perf-timeline.mjs
# /tmp/perf-record/<label>/perf.data` then shows where each half second went.
set -euo pipefail
cd "$(dirname "$0")/../../.."
label=$1; step=$2; root=${3:-}; args=${4:-}
out=/tmp/perf-record/$label; rm -rf "$out"; mkdir -p "$out"
# The suite starts a root's bundle, <root>/dist/broker.mjs (bench/harness/processes.ts brokerBundle).
if [ -n "$root" ]; then P="${root%/}/dist/broker.mjs --workers"; else P="$PWD/dist/broker.mjs --workers"; fi
(TICKFAN_BROKER_ROOT=$root TICKFAN_BROKER_ARGS="$args" TICKFAN_BROKER_NODE_ARGS="--perf-basic-prof-only-functions" \
  npx tsx bench/suite.ts --workloads "$step" --targets tickfan --repeat 1 --http-seconds 0 --broker-cpu 0.25 \
  --stamp x --out "$out/run" > "$out/log" 2>&1 &)
pid=''
for _ in $(seq 1 200); do pid=$(pgrep -f "$P" | head -1 || true); [ -n "$pid" ] && break; sleep 0.1; done
[ -n "$pid" ] || { echo "the broker did not start" >&2; exit 1; }
sleep "${PERF_FROM:-12}"
perf record -F 2000 -g -p "$pid" -o "$out/perf.data" -- sleep "${PERF_SECONDS:-6}" > /dev/null 2>&1
while pgrep -f "bench/suite.ts" > /dev/null; do sleep 1; done
node -e '
  const s = require(process.argv[1]).scenarios[0]
  console.log(`${process.argv[2]}: delivered ${Math.round(s.deliveredRate)}/s, ${s.broker.cpuSecondsPerMillionDeliveries.toFixed(3)} s per million, p99 ${(s.fast.latencyUs.p99 / 1000).toFixed(1)} ms`)' \
  "$out/run/x/results.json" "$label"
# A young broker's window can hold V8 still optimising its code on a helper thread, under the same
# quota: at 120,000 msgs/s, 12 s in, a fifth of the samples (max-throughput-capped.md, "JIT in the window").
perf report -i "$out/perf.data" -n --children -g none --sort sym --stdio 2> /dev/null |
  awk '/OptimizingCompileDispatcher::CompileTask::RunInternal/ { print "samples optimising code (TurboFan, helper thread): " $1; found = 1 }
       END { if (!found) print "samples optimising code (TurboFan, helper thread): 0%" }' | tee "$out/top.txt"
perf report -i "$out/perf.data" -n --no-children -g none --sort dso --stdio 2> /dev/null | grep '%' | head -5 | tee -a "$out/top.txt"
perf report -i "$out/perf.data" -n --no-children -g none --sort sym --stdio 2> /dev/null | grep '%' | head -"${TOP:-30}" | tee -a "$out/top.txt"
