#!/bin/bash
# A broker that may open 200 files (prlimit), asked for --max-connections 1000, and 240 clients
# arriving 20 at a time, each waiting for INFO and then a PONG to CONNECT+PING. Counts each
# client's outcome: served, refused with -ERR 'maximum connections exceeded', or cut off (closed
# with nothing said). Run from the root of a checkout; CHECKOUT=<dir> runs another checkout's broker.
#   bash reports/broker/connection-limits/flood.sh
#   git worktree add /tmp/wt-before 7cf6ae0 && (cd /tmp/wt-before && npm ci) && CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/flood.sh
here=$PWD
dir=${CHECKOUT:-$PWD}
log=$(mktemp)
(cd "$dir" && exec prlimit --nofile=200:200 -- node --import tsx broker/main.ts --workers 1 --host 127.0.0.1 --port 0 \
  --ws-port=-1 --http-port=-1 --max-connections 1000) > "$log" 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q 'NATS  *nats://' "$log" && break; sleep 0.2; done
port=$(grep -o 'nats://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
echo "checkout: $(git -C "$dir" log --oneline -1)"
grep -o 'max_connections lowered[^"]*' "$log" || echo "(the broker said nothing about its connection limit)"
node "$here/reports/broker/connection-limits/clients.mjs" "$port" 240
echo "log lines 'connection refused': $(grep -c 'connection refused' "$log")"
kill "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"
