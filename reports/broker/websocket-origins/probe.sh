#!/usr/bin/env bash
# attempt.mjs against the WebSocket port of the tickfan broker of <checkout> (default: this one),
# with its default options, then against nats-server 2.9 with websocket on (no allowed_origins).
#   bash reports/broker/websocket-origins/probe.sh [checkout]
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-.}" && pwd)
source "$here/../connection-limits/start-broker.sh"
start_broker "$dir" nats --ws-port 0 --http-port 0
ws=$(grep -o "ws://127.0.0.1:[0-9]*" "$log" | head -1)
echo "tickfan, default options:"
node "$here/attempt.mjs" "$ws"
grep -o 'WebSocket connection refused.*(from [^)]*)' "$log" | sed 's|\\"|"|g' | sed 's/^/  broker log: /'
stop_broker
conf=$(mktemp)
wsport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listen: 127.0.0.1:-1\nwebsocket { listen: "127.0.0.1:%s", no_tls: true }\n' "$wsport" > "$conf"
nats-server -c "$conf" > /dev/null 2>&1 &
npid=$!
sleep 0.5
echo "nats-server $(nats-server --version | awk '{print $2}'), websocket without allowed_origins:"
node "$here/attempt.mjs" "ws://127.0.0.1:$wsport"
kill "$npid"; wait "$npid" 2>/dev/null
rm -f "$conf"
