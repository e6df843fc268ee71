#!/usr/bin/env bash
# bash reports/broker/protocol-diff/ws-probe.sh <checkout>: ws-probe.py against nats-server's
# WebSocket port (no TLS) and the broker of <checkout> (one worker).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
printf 'listen: "127.0.0.1:-1"\nwebsocket { listen: "127.0.0.1:-1", no_tls: true }\n' > /tmp/ws-probe-nats.conf
nats-server -c /tmp/ws-probe-nats.conf -l /tmp/ws-probe-nats.log & ns=$!
for _ in $(seq 1 50); do grep -q "websocket clients on" /tmp/ws-probe-nats.log 2>/dev/null && break; sleep 0.1; done
nport=$(grep -o "websocket clients on ws://127.0.0.1:[0-9]*" /tmp/ws-probe-nats.log | sed 's/.*://')
start_broker "$1" ws --ws-port 0 --http-port 0
python3 "$here/ws-probe.py" "$nport" "$port"
stop_broker
kill $ns; wait $ns 2>/dev/null; rm -f /tmp/ws-probe-nats.log /tmp/ws-probe-nats.conf
