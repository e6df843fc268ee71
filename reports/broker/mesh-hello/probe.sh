#!/bin/bash
# Used by reports/broker/mesh-hello.md:  bash reports/broker/mesh-hello/probe.sh <rounds> <ms of publishing before each kill> [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); the probe is this tree's.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../two-workers.sh"
rounds=$1; before=$2; shift 2
run_probe "$here/probe.ts" "$rounds" "$before" -- "$@"
