#!/usr/bin/env bash
# bash reports/broker/connection-limits/workers.sh <checkout>: --max-connections 5 with 1, 2 and
# 3 workers; 8 connections opened in turn (count.py): how many are served.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/start-broker.sh"
for workers in 1 2 3; do
  start_broker "$1" nats --ws-port 0 --http-port 0 --workers "$workers" --max-connections 5 > /dev/null
  served=$(python3 "$here/count.py" "$port" 8 | grep -o "'ok'" | wc -l)
  echo "$(git -C "$1" log --format=%h -1), --workers $workers --max-connections 5: $served of 8 connections served"
  stop_broker
done
