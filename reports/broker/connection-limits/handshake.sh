#!/bin/bash
# The WebSocket port of a broker (default connect timeout, 2 s) against a silent socket and an
# upgrade request dripped a line every 100 ms, each given up after 20 s, for this checkout's
# broker, another checkout's (CHECKOUT=<dir>), and nats-server 2.9 (NATS=1) with websocket on.
#   bash reports/broker/connection-limits/handshake.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/handshake.sh
#   NATS=1 bash reports/broker/connection-limits/handshake.sh
here=$(dirname "$0")
. "$here/start-broker.sh"
if [ -n "${NATS:-}" ]; then
  conf=$(mktemp); printf 'port: -1\nwebsocket { port: 24923, no_tls: true }\n' > "$conf"
  log=$(mktemp); nats-server -c "$conf" > "$log" 2>&1 &
  pid=$!; port=24923; sleep 1
  echo "nats-server $(nats-server --version)"
else
  start_broker "${CHECKOUT:-$PWD}" ws --ws-port 0 --http-port=-1
fi
node --import tsx "$here/probe.ts" handshake "$port" 20
stop_broker
