#!/bin/bash
# What keeping every trade costs inside the floor and inside tickfan, at 160,000 msgs/s uncapped,
# in rounds: the floor, the floor keeping trades, tickfan without its history, tickfan with the
# floor's stores but every message copied into one slab used over and over (nothing allocated,
# no fresh memory: EXP_FLOOR_KEEP=one-slab), tickfan with the floor's way of keeping in place of
# its history (EXP_FLOOR_KEEP=1), tickfan (tickfan-floor-keep.diff: the variable is read once,
# at start; read per append, its cost made keeping look three times dearer in tickfan).
# Prints round, broker, delivered/s, p99, CPU seconds per million deliveries.
#   bash reports/broker/floor/keep-in-tickfan.sh
cd "$(dirname "$0")/../../.." || exit 1
exp=${EXP_TREE:-/tmp/tickfan-floor-keep-2}
if [ ! -d "$exp" ]; then
  git worktree add --detach "$exp" HEAD > /dev/null && git -C "$exp" apply "$PWD/reports/broker/floor/tickfan-floor-keep.diff" &&
    ln -s "$PWD/node_modules" "$exp/node_modules" || exit 1
fi
out=${OUTDIR:-/tmp/keep-in-tickfan}
for round in ${ROUNDS:-1 2 3}; do
  for cfg in floor floor-keep tickfan-nohistory tickfan-one-slab tickfan-floor-keep tickfan; do
    case $cfg in
      floor) env=(TICKFAN_BROKER_ROOT=bench/floor);;
      floor-keep) env=(TICKFAN_BROKER_ROOT=bench/floor TICKFAN_BROKER_ARGS=--keep-trades);;
      tickfan-nohistory) env=(TICKFAN_BROKER_ROOT="$exp" TICKFAN_BROKER_ARGS=--history=);;
      tickfan-one-slab) env=(TICKFAN_BROKER_ROOT="$exp" EXP_FLOOR_KEEP=one-slab);;
      tickfan-floor-keep) env=(TICKFAN_BROKER_ROOT="$exp" EXP_FLOOR_KEEP=1);;
      tickfan) env=(TICKFAN_BROKER_ROOT="$exp");;
    esac
    env "${env[@]}" npx tsx bench/suite.ts --workloads reports/broker/floor/step-160k.json --targets tickfan \
      --repeat 1 --http-seconds 0 --out "$out/$cfg-$round" > "$out-$cfg-$round.log" 2>&1
    s=$(ls -d "$out/$cfg-$round"/2026*/ | tail -1)
    grep -E "^\| tickfan \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' -v c=$cfg -v r=$round '{print r, c, $5, $8, $20, $23}'
  done
done
