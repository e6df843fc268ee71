#!/usr/bin/env bash
# bash reports/broker/own-order/probe.sh <checkout> [rounds]: probe.py against the broker of
# <checkout> with 1, 2 and 3 workers (start_broker passes --workers 1; the later flag wins),
# then against nats-server.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
rounds=${2:-200}
echo "checkout: $(git -C "$1" log --oneline -1 | cut -c1-60)"
for workers in 1 2 3; do
  start_broker "$1" nats --ws-port 0 --http-port 0 --workers "$workers" > /dev/null
  echo "tickfan, $workers worker(s): $(python3 "$here/probe.py" "$port" "$rounds")"
  stop_broker
done
nats-server -a 127.0.0.1 -p 0 -l /tmp/own-order-nats.log & ns=$!
for _ in $(seq 1 50); do grep -q "client connections on" /tmp/own-order-nats.log 2>/dev/null && break; sleep 0.1; done
nport=$(grep -o "client connections on 127.0.0.1:[0-9]*" /tmp/own-order-nats.log | sed 's/.*://')
echo "nats-server $(nats-server --version | awk '{print $2}'): $(python3 "$here/probe.py" "$nport" "$rounds")"
kill $ns; wait $ns 2>/dev/null; rm -f /tmp/own-order-nats.log
