#!/bin/bash
# Used by reports/broker/websocket-pongs.md:  bash reports/broker/websocket-pongs/burst.sh <tries>
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
start_broker "${CHECKOUT:-$here/../../..}" ws --ws-port 0 --http-port=-1
for _ in $(seq 1 "$1"); do (cd "$here/../../.." && node "$here/burst.mjs" "$port"); done
stop_broker
