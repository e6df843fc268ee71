#!/bin/bash
# The monitoring port of a broker against 40 sockets that say nothing, opened at once and given
# up after 15 s: how many it closes at once (past its cap), later, or never. CHECKOUT=<dir> runs
# another checkout's broker.
#   bash reports/broker/connection-limits/monitor.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/monitor.sh
here=$(dirname "$0")
. "$here/start-broker.sh"
start_broker "${CHECKOUT:-$PWD}" http --ws-port=-1 --http-port 0
node --import tsx "$here/probe.ts" silent "$port" 40 15
stop_broker
