#!/usr/bin/env bash
# probe.ts against the tickfan broker of <checkout> (default: this one) and against nats-server.
#   bash reports/broker/header-blocks/probe.sh [checkout]
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-.}" && pwd)
source "$here/../connection-limits/start-broker.sh"
start_broker "$dir" nats
node --import tsx "$here/probe.ts" "$port" "tickfan"
stop_broker
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$nport" > /dev/null 2>&1 &
npid=$!
sleep 0.5
node --import tsx "$here/probe.ts" "$nport" "nats-server $(nats-server --version | awk '{print $2}')"
kill "$npid"; wait "$npid" 2>/dev/null
