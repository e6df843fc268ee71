#!/usr/bin/env bash
# What quotes for ever new instruments do to tickfan's services and traders.
#
#   bash reports/traders/symbol-flood/probe.sh [checkout] [instruments] [floods]
#
# Starts the tickfan broker (one worker), the services (one price member) and the traders
# (1 bot on quote.>, no slow bots, no requests) of <checkout> (default: this one). Then
# <floods> (default 2) times, flood.mjs publishes quotes for <instruments> (default 200,000)
# instruments never quoted before, on two venues. Prints the RSS of the services and traders
# processes before and after each flood (3 s after it), and their CPU time over all of them.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-.}" && pwd)
symbols=${2:-200000}
floods=${3:-2}
source "$here/../../broker/connection-limits/start-broker.sh"
start_broker "$dir" nats --ws-port 0 --http-port 0 --max-last-value-subjects 1000000
url="nats://127.0.0.1:$port"
work=$(mktemp -d)
cd "$dir"
node --import tsx traders/services-main.ts --nats "$url" --price-members 1 --quiet > "$work/services.log" 2>&1 &
services=$!
node --import tsx traders/main.ts --nats "$url" --bots 1 --slow 0 --requests-per-sec 0 --quiet > "$work/traders.log" 2>&1 &
traders=$!
sleep 3
# the node processes (tsx starts node under a parent of its own: take the child that runs the file)
svc=$(pgrep -f "services-main.ts --nats $url" | tail -1)
trd=$(pgrep -f "traders/main.ts --nats $url" | tail -1)
rss () { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo gone; }
cpu () { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
echo "before: services RSS $(rss "$svc"), traders RSS $(rss "$trd")"
c0s=$(cpu "$svc"); c0t=$(cpu "$trd")
for f in $(seq 1 "$floods"); do
  node "$here/flood.mjs" "$port" "$symbols" $(( (f - 1) * symbols ))
  sleep 3
  echo "after flood $f: services RSS $(rss "$svc"), traders RSS $(rss "$trd")"
done
c1s=$(cpu "$svc"); c1t=$(cpu "$trd")
tick=$(getconf CLK_TCK)
echo "CPU over the floods: services $(( (c1s - c0s) * 1000 / tick )) ms, traders $(( (c1t - c0t) * 1000 / tick )) ms"
echo "services said: $(grep -v '^$' "$work/services.log" | tail -2 | cut -c1-160 | tr '\n' ' ')"
echo "traders said:  $(grep -v '^$' "$work/traders.log" | tail -2 | cut -c1-160 | tr '\n' ' ')"
kill "$services" "$traders" 2>/dev/null; wait "$services" "$traders" 2>/dev/null
stop_broker
rm -rf "$work"
