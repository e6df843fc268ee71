#!/bin/bash
# One capped step of max-throughput per broker variant, in rounds, each variant in turn
# (reports/broker/flow-window.md). Prints delivered/s, CPU per million deliveries, p99, the
# conflation starts by cause that /varz counted in the measured window, and the seconds the
# publisher waited for the broker to take its writes.
#
#   bash reports/broker/flow-window/compare.sh <step.json> <rounds> <label>=<root>[|<broker args>] ...
#
# <root>: a checkout whose broker/main.ts runs (TICKFAN_BROKER_ROOT; empty: this one), e.g. a
# worktree of another commit with node_modules linked in. Results go to /tmp/flow-window/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
step=$1; rounds=$2; shift 2
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*}; rest=${spec#*=}; root=${rest%%|*}; args=""
    [[ "$rest" == *"|"* ]] && args=${rest#*|}
    out=/tmp/flow-window/$label-$r; rm -rf "$out"
    TICKFAN_BROKER_ROOT=$root TICKFAN_BROKER_ARGS="$args" npx tsx bench/suite.ts --workloads "$step" \
      --targets tickfan --repeat 1 --http-seconds 0 --broker-cpu 0.25 --stamp x --out "$out" >/dev/null 2>&1
    node -e '
      const s = require(process.argv[1]).scenarios[0]
      const b = s.broker
      console.log(`${process.argv[2].padEnd(10)} round ${process.argv[3]}: delivered ${Math.round(s.deliveredRate)}/s,` +
        ` ${b.cpuSecondsPerMillionDeliveries.toFixed(3)} s per million, p99 ${(s.fast.latencyUs.p99 / 1000).toFixed(1)} ms,` +
        ` conflation starts ${JSON.stringify(b.conflationStarts ?? null)},` +
        ` publisher waited ${(s.publisher?.waitedForBrokerSeconds ?? NaN).toFixed(2)} s`)' "$out/x/results.json" "$label" "$r"
  done
done
