#!/bin/bash
# Full collections (V8 mark-compacts) in one capped step per broker variant, in rounds, each
# variant in turn: compare.sh's line for the step, then the broker's full collections, each as
# `seconds into its life:pause in ms` (gc-log.mjs). A broker under the suite listens about 3 s into
# its life and the load starts about a second later: those from 5 s on came with the load.
#
#   bash reports/broker/history-fill/majors.sh <step.json> <rounds> <label>=<root>[|<broker args>] ...
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=$(pwd)
step=$1; rounds=$2; shift 2
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    rm -f /tmp/majors-gc-*.txt
    GCLOG=/tmp/majors-gc TICKFAN_BROKER_NODE_ARGS="--import $here/reports/broker/history-fill/gc-log.mjs" \
      bash reports/broker/flow-window/compare.sh "$step" 1 "$spec" | sed "s/round 1/round $r/"
    log=$(ls -S /tmp/majors-gc-*.txt | head -1)
    awk '$2 == "major" { all = all " " $1 ":" $3; if ($1 >= 5) n++ } END { printf "  full collections:%s; from 5 s on: %d\n", all, n }' "$log"
  done
done
