#!/usr/bin/env bash
# Trades with long Nats-Msg-Ids against the broker of <checkout> (default: this one), with its
# default history (256 MiB, ids remembered for 2 minutes, at most 200,000):
#   bash reports/broker/history-msg-ids/probe.sh [checkout] [seconds] [id bytes]
# flood.mjs publishes for <seconds> (default 30) trades whose ids are <id bytes> long (default
# 262144); the broker's RSS is printed every 5 s, and 3 s after the flood.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-.}" && pwd)
seconds=${2:-30}
idBytes=${3:-262144}
source "$here/../connection-limits/start-broker.sh"
start_broker "$dir" nats --ws-port 0 --http-port 0
broker=$(pgrep -P "$pid" node || echo "$pid")
rss () { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$broker/status" 2>/dev/null || echo gone; }
echo "start: broker RSS $(rss)"
node "$here/flood.mjs" "$port" "$seconds" "$idBytes" &
flood=$!
for t in $(seq 5 5 "$seconds"); do sleep 5; echo "${t} s: broker RSS $(rss)"; done
wait "$flood"
sleep 3
echo "3 s after: broker RSS $(rss)"
stop_broker
