#!/bin/bash
# Used by reports/broker/monitor-lvc.md:  bash reports/broker/monitor-lvc/connz.sh <connections> <subscriptions each> [query, subs=1 unless given]
# CHECKOUT=<dir> runs another checkout's broker; the probe is this tree's. WORKERS=<n> starts that many workers (1 unless given).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
start_broker "${CHECKOUT:-$here/../../..}" nats --http-port 0 --ws-port=-1 --max-subscription-ops-per-sec 0 --workers "${WORKERS:-1}"
http=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
node --import tsx "$here/connz.ts" "$port" "$http" "$1" "$2" ${3:+"$3"}
stop_broker
