#!/bin/bash
# Used by reports/broker/mesh-behind.md:  bash reports/broker/mesh-behind/probe.sh <seconds> <payload bytes> [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../two-workers.sh"
seconds=$1; payload=$2; shift 2
run_probe "$here/probe.ts" "$seconds" "$payload" -- "$@"
