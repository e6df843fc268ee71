#!/bin/bash
# The WebSocket port of a broker (default connect timeout, 2 s) against a silent socket and an
# upgrade request dripped a line every 100 ms (held.mjs), for this checkout's broker, another
# checkout's (CHECKOUT=<dir>), and nats-server 2.9 (NATS=1) with websocket on.
#   bash reports/broker/connection-limits/handshake.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/handshake.sh
#   NATS=1 bash reports/broker/connection-limits/handshake.sh
here=$PWD
log=$(mktemp)
if [ -n "${NATS:-}" ]; then
  conf=$(mktemp); printf 'port: -1\nwebsocket { port: 24923, no_tls: true }\n' > "$conf"
  nats-server -c "$conf" > "$log" 2>&1 &
  pid=$!; port=24923; sleep 1
  echo "nats-server $(nats-server --version)"
else
  dir=${CHECKOUT:-$PWD}
  (cd "$dir" && exec node --import tsx broker/main.ts --workers 1 --host 127.0.0.1 --port 0 --ws-port 0 --http-port=-1) > "$log" 2>&1 &
  pid=$!
  for i in $(seq 1 100); do grep -q 'WebSocket  *ws://' "$log" && break; sleep 0.2; done
  port=$(grep -o 'ws://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
  echo "checkout: $(git -C "$dir" log --oneline -1)"
fi
node "$here/reports/broker/connection-limits/held.mjs" "$port" "${SECONDS_LIMIT:-20}"
kill "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"
