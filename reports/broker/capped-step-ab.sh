#!/bin/bash
# One capped max-throughput step (default 160,000 msgs/s, a quarter of a core) of tickfan, two ways in turn,
# round after round. Way A runs the suite of checkout A_DIR with the environment A_ENV (words NAME=VALUE),
# way B likewise; A_NAME and B_NAME label them. Prints round, way, step, delivered/s, p99, CPU s per million
# deliveries, validity.
#   A_NAME=tsx A_DIR=/tmp/wt-cd62bc2 B_NAME=bundle bash reports/broker/capped-step-ab.sh   (reports/broker/bundle.md)
#   A_NAME=920 B_NAME=1840 B_ENV=TICKFAN_BROKER_NODE_ARGS=--max-inlined-bytecode-size-cumulative=1840 \
#     bash reports/broker/capped-step-ab.sh
cd "$(dirname "$0")/../.." || exit 1
WL=${WL:-$PWD/reports/broker/floor/step-160k.json}
out=${OUT:-/tmp/capped-step-ab}; mkdir -p "$out"
for round in ${ROUNDS:-1 2 3 4 5 6}; do
  for way in A B; do
    dir_var=${way}_DIR; env_var=${way}_ENV; name_var=${way}_NAME
    dir=${!dir_var:-.}; name=${!name_var:-$way}
    (cd "$dir" && env ${!env_var:-X=1} npx tsx bench/suite.ts --workloads "$WL" --targets tickfan --repeat 1 --http-seconds 0 \
      --broker-cpu 0.25 --out "$out/$name-$round" > "$out/$name-$round.log" 2>&1)
    s=$(ls -td "$out/$name-$round"/*/ | head -1) # the newest report folder (older checkouts have no --stamp)
    grep -E "^\| tickfan \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' -v c="$name" -v r=$round '{print r, c, $3, $5, $8, $20, $23}'
  done
done
