#!/bin/bash
# CPU per delivery of tickfan and of the floor keeping every trade at the same offered rate,
# both under the suite's quarter-core cap, in interleaved rounds (one fresh one-step run each,
# tickfan first). tickfan gets --history-preallocate, as the capped suite gives it; the floor
# gets FLOOR_ARGS (default --keep-trades --keep-preallocate: its store's memory taken at start
# too). Prints round, broker, delivered/s, p99, CPU s per million deliveries and
# whether the step was valid, from each run's summary.
#   bash reports/broker/floor/capped-same-rate.sh
#   (ROUNDS="1 2 3 4", WL=reports/broker/floor/step-160k.json, FLOOR_ARGS="--keep-trades --keep-preallocate")
cd "$(dirname "$0")/../../.." || exit 1
out=${OUTDIR:-/tmp/capped-same-rate}; mkdir -p "$out"
for round in ${ROUNDS:-1 2 3 4}; do
  for b in tickfan floor-keep; do
    env=(X=1)
    [ $b = floor-keep ] && env=(TICKFAN_BROKER_ROOT=bench/floor "TICKFAN_BROKER_ARGS=${FLOOR_ARGS:---keep-trades --keep-preallocate}")
    env "${env[@]}" npx tsx bench/suite.ts --workloads "${WL:-reports/broker/floor/step-160k.json}" \
      --targets tickfan --repeat 1 --http-seconds 0 --broker-cpu 0.25 --out "$out/$b-$round" > "$out/$b-$round.log" 2>&1
    s=$(ls -d "$out/$b-$round"/2026*/ | tail -1)
    grep -E "^\| tickfan \| max-throughput [0-9,]+/s" "$s/summary.md" | head -1 |
      awk -F'|' -v b=$b -v r=$round '{print r, b, $3, "delivered/s", $5, "p99", $8, "CPU s/M", $20, "valid", $23}'
  done
done
