#!/bin/bash
# CPU per delivery of five brokers at the same offered rates, uncapped, each alone in its own
# run of the suite, in rounds: the floor relay, the floor keeping every trade, tickfan without
# its trade history, tickfan, nats-server. Prints round, broker, step, delivered/s, p99 and CPU
# seconds per million deliveries from each run's summary.
#   bash reports/broker/floor/same-rate.sh            (ROUNDS="1 2 3", WL=steps-100k-160k.json)
cd "$(dirname "$0")/../../.." || exit 1
out=${OUTDIR:-/tmp/same-rate}; mkdir -p "$out"
for round in ${ROUNDS:-1 2 3}; do
  for cfg in floor floor-keep tickfan-nohistory tickfan nats-server; do
    target=tickfan; env=(X=1)
    case $cfg in
      floor) env=(TICKFAN_BROKER_ROOT=bench/floor);;
      floor-keep) env=(TICKFAN_BROKER_ROOT=bench/floor TICKFAN_BROKER_ARGS=--keep-trades);;
      tickfan-nohistory) env=(TICKFAN_BROKER_ARGS=--history=);;
      nats-server) target=nats-server;;
    esac
    env "${env[@]}" npx tsx bench/suite.ts --workloads "${WL:-reports/broker/floor/steps-100k-160k.json}" \
      --targets $target --repeat 1 --http-seconds 0 --out "$out/$cfg-$round" > "$out/$cfg-$round.log" 2>&1
    s=$(ls -d "$out/$cfg-$round"/2026*/ | tail -1)
    grep -E "^\| $target \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' -v c=$cfg -v r=$round '{print r, c, $3, $5, $8, $20, $23}'
  done
done
