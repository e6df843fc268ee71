#!/bin/bash
# Used by reports/broker/snapshot-churn.md:  bash reports/broker/snapshot-churn/many.sh <subjects> <seconds> <churners> [broker args...]
# CHECKOUT=<dir> runs another checkout's broker (a worktree of the commit before); SUBS=0: the churners only publish (many.ts).
PROBE=many.ts exec bash "$(dirname "$0")/churn.sh" "$@"
