#!/bin/bash
# Used by reports/broker/last-value-sprawl.md:  bash reports/broker/last-value-sprawl/sprawl.sh [slow] [seconds] [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
slow=${1:-20}; seconds=${2:-15}; shift 2
start_broker "${CHECKOUT:-$here/../../..}" nats --http-port 0 --ws-port=-1 "$@"
http=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
node --import tsx "$here/probe.ts" "$port" "$http" "$pid" "$slow" "$seconds"
stop_broker
