#!/bin/bash
# A broker that may open 200 files (prlimit), asked for --max-connections 1000, and 240 clients
# arriving 20 at a time, each waiting for INFO and then a PONG to CONNECT+PING. Counts each
# client's outcome: served, refused with -ERR 'maximum connections exceeded', or cut off (closed
# with nothing said). Run from the root of a checkout; CHECKOUT=<dir> runs another checkout's broker.
#   bash reports/broker/connection-limits/flood.sh
#   git worktree add /tmp/wt-before 7cf6ae0 && ln -s "$PWD/node_modules" /tmp/wt-before/ && CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/flood.sh
here=$(dirname "$0")
. "$here/start-broker.sh"
PREFIX="prlimit --nofile=200:200 --" start_broker "${CHECKOUT:-$PWD}" nats --ws-port=-1 --http-port=-1 --max-connections 1000
grep -o 'max_connections lowered[^"]*' "$log" || echo "(the broker said nothing about its connection limit)"
node --import tsx "$here/probe.ts" flood "$port" 240
echo "log lines 'connection refused': $(grep -c 'connection refused' "$log")"
stop_broker
