#!/usr/bin/env bash
# bash reports/broker/held-runs/probe.sh <checkout> [rounds]: probe.py's three cases against the
# broker of <checkout> (one worker), a fresh broker for each.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
rounds=${2:-100000}
for mode in --reading "" --pingpong; do
  start_broker "$1" nats --ws-port 0 --http-port 0
  http=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
  python3 "$here/probe.py" "$port" "$http" "$pid" "$rounds" $mode
  stop_broker
done
