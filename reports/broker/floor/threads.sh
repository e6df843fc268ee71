#!/bin/bash
# User and system CPU of each thread of a running broker over 4 s, read from /proc 6 s after it
# appears (mid-step of a run started beside this script).
#   threads.sh '<regex the broker's command line starts with>'
# e.g. threads.sh '^/usr/bin/node.*floor/broker/main.ts' or threads.sh '^nats-server'
pat=$1
for _ in $(seq 1 100); do pid=$(pgrep -f "$pat" | head -1); [ -n "$pid" ] && break; sleep 0.2; done
[ -n "$pid" ] || { echo "no process matches $pat" >&2; exit 1; }
sleep 6
snap () { for t in /proc/"$pid"/task/*; do echo "$(tr ' ' '_' < "$t/comm") $(awk '{print $14, $15}' "$t/stat")"; done; }
a=$(snap); sleep 4; b=$(snap)
join <(echo "$a" | awk '{print NR"_"$1, $2, $3}' | sort) <(echo "$b" | awk '{print NR"_"$1, $2, $3}' | sort) |
  awk '{u=$4-$2; s=$5-$3; if (u+s>0) printf "%-20s user %4d sys %4d (ticks of 10 ms)\n", $1, u, s; tu+=u; ts+=s} END {printf "total user %d sys %d\n", tu, ts}'
