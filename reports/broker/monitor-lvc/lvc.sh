#!/bin/bash
# Used by reports/broker/monitor-lvc.md:  bash reports/broker/monitor-lvc/lvc.sh <subjects> <payload bytes> [query] [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
subjects=$1; bytes=$2; query=${3:-subject=%3E}; shift $(( $# < 3 ? $# : 3 ))
start_broker "${CHECKOUT:-$here/../../..}" nats --http-port 0 --ws-port=-1 "$@"
http=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
node --import tsx "$here/probe.ts" "$port" "$http" "$pid" "$subjects" "$bytes" "$query"
stop_broker
