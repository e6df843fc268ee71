#!/usr/bin/env bash
# bash reports/broker/mesh-frames/probe.sh <checkout>: the two probes beside this against the
# broker of <checkout> with 2 workers (and control lines up to 200,000 bytes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
start_broker "$1" nats --ws-port 0 --http-port 0 --workers 2 --max-control-line 200000
for g in 10 255 256 300; do python3 "$here/groups.py" "$port" "$g"; done
for n in 1000 70000; do python3 "$here/long-subject.py" "$port" "$n"; done
echo "workers restarted: $(grep -c 'stopped (code' "$log")"
stop_broker
