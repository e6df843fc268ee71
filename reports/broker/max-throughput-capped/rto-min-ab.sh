#!/bin/bash
# Used by reports/broker/max-throughput-capped.md ("A shorter retransmission timer"): rounds of one capped step of
# max-throughput (WL, default 120,000 msgs/s), each broker alone under a quarter of a core, with the machine's
# net.ipv4.tcp_rto_min_us at 200 ms (Linux's default) and at 5 ms in turn. Prints, per run: round, timer, broker |
# delivered/s | p99 | max | CPU s per million deliveries (run / window, share of the cap) | valid | the TCP counters
# nstat saw change over the run (nstat prints only those that did). Needs root; sets 200 ms back at the end.
cd "$(dirname "$0")/../../.." || exit 1
WL=${WL:-$PWD/reports/broker/subject-keys/step-120k.json}
out=${OUT:-/tmp/rto-ab}; mkdir -p "$out"
trap 'sysctl -qw net.ipv4.tcp_rto_min_us=200000' EXIT
for round in ${ROUNDS:-1 2}; do
  for rto in 200000 5000; do
    sysctl -qw net.ipv4.tcp_rto_min_us=$rto
    for t in tickfan nats-server; do
      nstat -n > /dev/null
      npx tsx bench/suite.ts --workloads "$WL" --targets $t --repeat 1 --http-seconds 0 --broker-cpu 0.25 \
        --out "$out/$t-$rto-$round" --stamp run > "$out/$t-$rto-$round.log" 2>&1
      c=$(nstat 2> /dev/null | awk '/^(Tcp|TcpExt)/ {printf "%s=%s ", $1, $2}')
      r=$(grep -E "^\| $t \| max-throughput [0-9,]+/s" "$out/$t-$rto-$round/run/summary.md" |
        awk -F'|' '{print $5, "|", $8, "|", $11, "|", $20, "|", $23}')
      echo "$round rto_min_us=$rto $t | $r | $c"
    done
  done
done
