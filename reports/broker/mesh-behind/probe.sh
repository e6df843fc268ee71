#!/bin/bash
# Used by reports/broker/mesh-behind.md:  bash reports/broker/mesh-behind/probe.sh <seconds> <payload bytes> [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
seconds=$1; payload=$2; shift 2
log=$(mktemp)
(cd "${CHECKOUT:-$here/../../..}" && exec node --import tsx broker/main.ts --workers 2 --host 127.0.0.1 --port 0 --http-port 0 --ws-port=-1 "$@") > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do grep -q "http://127.0.0.1:" "$log" && grep -q "nats://127.0.0.1:" "$log" && break; sleep 0.2; done
port=$(grep -o "nats://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
HTTP_PORT=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://') node --import tsx "$here/probe.ts" "$port" "$pid" "$seconds" "$payload"
kill -INT "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"
