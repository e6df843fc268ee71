#!/bin/bash
# Used by reports/broker/cpu-clock.md:  WL=$PWD/reports/broker/cpu-clock/fixed-80k-long.json bash reports/broker/cpu-clock/stat-broker.sh <checkout> <out dir>
# $1 checkout dir, $2 out dir: the capped fixed-rate step (WL), perf stat of the broker's system calls for SECS s after DELAY s
D=$1; O=$2; mkdir -p $O
cd $D   # the step: WL (default /tmp/fixed-80k-long.json, kept beside this script)
npx tsx bench/suite.ts --workloads ${WL:-/tmp/fixed-80k-long.json} --targets tickfan --repeat 1 --http-seconds 0 --broker-cpu 0.25 --out $O/suite --stamp s > $O/suite.log 2>&1 &
S=$!
for i in $(seq 60); do P=$(pgrep -f 'dist/broker.mjs|tickfan-broker' | head -1); [ -n "$P" ] && break; sleep 0.5; done
sleep ${DELAY:-20}
perf stat -e 'syscalls:sys_enter_getrusage,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,task-clock' -p $P -- sleep ${SECS:-8} 2> $O/stat.txt
wait $S
grep -E "^\| tickfan \| fixed" $O/suite/s/summary.md | cut -d'|' -f5,8,20,23 > $O/row.txt
