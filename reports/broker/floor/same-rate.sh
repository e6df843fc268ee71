#!/bin/bash
# CPU per delivery of brokers at the same offered rates, each alone in its own run of the suite,
# in rounds (in CONFIGS' order within each round): the floor relay, the floor keeping every trade
# (floor-keep; floor-keep-pre: its store's memory taken at start), tickfan without its trade
# history, tickfan, nats-server. Prints round, broker, step, delivered/s, p99, CPU seconds per
# million deliveries and whether the step was valid, from each run's summary.
#   bash reports/broker/floor/same-rate.sh            (ROUNDS="1 2 3", WL=steps-100k-160k.json, uncapped)
#   BROKER_CPU=0.25 CONFIGS="tickfan floor-keep-pre" ROUNDS="1 2 3 4" WL=reports/broker/floor/step-160k.json \
#     bash reports/broker/floor/same-rate.sh          (under the suite's cap: a capped tickfan gets --history-preallocate)
cd "$(dirname "$0")/../../.." || exit 1
out=${OUTDIR:-/tmp/same-rate}; mkdir -p "$out"
cap=(); [ -n "${BROKER_CPU:-}" ] && cap=(--broker-cpu "$BROKER_CPU")
for round in ${ROUNDS:-1 2 3}; do
  for cfg in ${CONFIGS:-floor floor-keep tickfan-nohistory tickfan nats-server}; do
    target=tickfan; env=(X=1)
    case $cfg in
      floor) env=(TICKFAN_BROKER_ROOT=bench/floor);;
      floor-keep) env=(TICKFAN_BROKER_ROOT=bench/floor TICKFAN_BROKER_ARGS=--keep-trades);;
      floor-keep-pre) env=(TICKFAN_BROKER_ROOT=bench/floor "TICKFAN_BROKER_ARGS=--keep-trades --keep-preallocate");;
      tickfan-nohistory) env=(TICKFAN_BROKER_ARGS=--history=);;
      tickfan) ;;
      nats-server) target=nats-server;;
      *) echo "unknown config: $cfg" >&2; exit 2;;
    esac
    env "${env[@]}" npx tsx bench/suite.ts --workloads "${WL:-reports/broker/floor/steps-100k-160k.json}" \
      --targets $target --repeat 1 --http-seconds 0 "${cap[@]}" --out "$out/$cfg-$round" > "$out/$cfg-$round.log" 2>&1
    s=$(ls -d "$out/$cfg-$round"/2026*/ | tail -1)
    grep -E "^\| $target \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' -v c=$cfg -v r=$round '{print r, c, $3, $5, $8, $20, $23}'
  done
done
