#!/bin/bash
# System calls and CPU of each broker under the suite's quarter-core cap, at 160,000 and 240,000
# msgs/s of max-throughput's load: `perf stat` on the broker process (every thread) for 4 s,
# 12 s after it starts (a capped run's warm-up is stretched to 8 s), then the run's delivered/s,
# p99 and CPU per million deliveries. Needs root (the cap) and perf with syscall tracepoints.
# RATES picks other steps of this folder (step-80k.json: reports/broker/flow-window.md).
#   bash reports/broker/floor/syscalls.sh
#   RATES=80 BROKERS="floor tickfan" bash reports/broker/floor/syscalls.sh
cd "$(dirname "$0")/../../.." || exit 1
out=${OUTDIR:-/tmp/floor-syscalls}
for rate in ${RATES:-160 240}; do
  for cfg in ${BROKERS:-floor tickfan nats-server}; do
    env=(X=1); target=tickfan
    case $cfg in
      floor) env=(TICKFAN_BROKER_ROOT=bench/floor); P='^/usr/bin/node.*floor/broker/main.ts';;
      tickfan) P='^/usr/bin/node.*[^r]/broker/main.ts --workers';;
      nats-server) target=nats-server; P='^nats-server';;
    esac
    (env "${env[@]}" npx tsx bench/suite.ts --workloads "reports/broker/floor/step-${rate}k.json" --targets $target \
      --repeat 1 --http-seconds 0 --broker-cpu 0.25 --out "$out/$cfg-$rate" > "$out-$cfg-$rate.log" 2>&1 &)
    pid=''
    for _ in $(seq 1 200); do pid=$(pgrep -f "$P" | head -1); [ -n "$pid" ] && break; sleep 0.1; done
    [ -n "$pid" ] || { echo "$cfg did not start" >&2; exit 1; }
    sleep 12
    echo "== $cfg at ${rate},000 msgs/s"
    perf stat -x, -e task-clock,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,\
syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep -p "$pid" -- sleep 4 2>&1 |
      awk -F, '{printf "   %s %s\n", $3, $1}'
    while pgrep -f "bench/suite.ts" > /dev/null; do sleep 1; done
    s=$(ls -d "$out/$cfg-$rate"/2026*/ | tail -1)
    grep -E "^\| $target \| max-throughput [0-9,]+/s" "$s/summary.md" | awk -F'|' '{print "   delivered/s", $5, "p99", $8, "cpu/M", $20}'
  done
done
