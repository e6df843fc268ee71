#!/bin/bash
# One capped max-throughput step (default 160,000 msgs/s, a quarter of a core) of tickfan started by two
# checkouts' suites in turn, round after round: BASE starts the sources through tsx (cd62bc2 and before),
# CAND its bundle. Prints round, checkout, step, delivered/s, p99, CPU s per million deliveries, validity.
#   BASE=/tmp/wt-base CAND=. bash reports/broker/bundle/capped-step.sh   (ROUNDS="1 2 3 4 5 6")
cd "$(dirname "$0")/../../.." || exit 1
WL=${WL:-$PWD/reports/broker/floor/step-160k.json}
out=${OUT:-/tmp/bundle-capped-step}; mkdir -p "$out"
for round in ${ROUNDS:-1 2 3 4 5 6}; do
  for cfg in tsx bundle; do
    case $cfg in tsx) dir=${BASE:?a checkout that starts tickfan through tsx};; bundle) dir=${CAND:-.};; esac
    (cd "$dir" && npx tsx bench/suite.ts --workloads "$WL" --targets tickfan --repeat 1 --http-seconds 0 --broker-cpu 0.25 \
      --out "$out/$cfg-$round" > "$out/$cfg-$round.log" 2>&1)
    s=$(ls -d "$out/$cfg-$round"/2026*/ | tail -1)
    grep -E "^\| tickfan \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' -v c=$cfg -v r=$round '{print r, c, $3, $5, $8, $20, $23}'
  done
done
