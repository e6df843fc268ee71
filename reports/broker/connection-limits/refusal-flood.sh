#!/bin/bash
# A broker under an open-file limit of 400 (ulimit -n) with --max-connections 100: 1500 sockets
# that say nothing and never close their end (those past the limit are refused), and 0.5 s
# into them 20 NATS clients: served, refused with a reason, or cut off without a word.
#   bash reports/broker/connection-limits/refusal-flood.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/refusal-flood.sh
here=$(dirname "$0")
. "$here/start-broker.sh"
ulimit -n 400
start_broker "${CHECKOUT:-$PWD}" nats --max-connections 100 --http-port=-1 --ws-port=-1
node --import tsx "$here/probe.ts" silent "$port" 1500 3 > /dev/null &
flood=$!
sleep 0.5
node --import tsx "$here/probe.ts" flood "$port" 20
wait $flood
kill -0 "$pid" 2> /dev/null && echo "broker still running" || echo "broker gone"
stop_broker
