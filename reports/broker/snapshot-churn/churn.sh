#!/bin/bash
# Used by reports/broker/snapshot-churn.md:  bash reports/broker/snapshot-churn/churn.sh <subjects> <seconds> <rounds per write> [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
# PROBE=<file beside this> runs another probe with the same arguments (many.sh: many.ts, whose third is the churners).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
subjects=$1; seconds=$2; batch=$3; shift 3
start_broker "${CHECKOUT:-$here/../../..}" nats --http-port=-1 --ws-port=-1 "$@"
node --import tsx "$here/${PROBE:-probe.ts}" "$port" "$subjects" "$seconds" "$batch"
stop_broker
