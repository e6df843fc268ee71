#!/usr/bin/env bash
# What three messages from any publisher, and a rogue price responder, do to tickfan's own
# clients, on a nats-server (which relays each as it came; tickfan's broker refuses the first at
# its door, see header-blocks.md).
#
#   bash reports/traders/untrusted-messages/probe.sh [checkout]    (default: this one)
#
# Starts nats-server, the feeds (binance and kraken, BTC-USD, 50 msgs/s each), the services and
# the traders (2 bots, a status line each 500 ms, 5 price requests a second) of <checkout>. After
# 4 s, attack.mjs: one raw connection publishes, once each,
#   1. a quote whose header block has a space in a header name (nats.js throws reading it);
#   2. `{}` on stats.traders.evil (not a bot group's stats);
#   3. `{}` on signal.arbitrage.BTC-USD (not a signal);
# and another answers every price request with `garbage` for 6 s (racing the real price member).
# 6 s later it prints whether the traders process is alive, what its last status line says, and
# what the services printed last: whether the bots and services still receive.
set -u
dir=$(cd "${1:-.}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" > "$work/nats.log" 2>&1 &
nats=$!
sleep 0.5
url="nats://127.0.0.1:$port"
cd "$dir"
echo "checkout: $(git log --oneline -1)"
node --import tsx feeds/main.ts --nats "$url" --venues binance,kraken --instruments BTC-USD --rate 50 --no-bursty > "$work/feeds.log" 2>&1 &
feeds=$!
node --import tsx traders/services-main.ts --nats "$url" --price-members 1 > "$work/services.log" 2>&1 &
services=$!
node --import tsx traders/main.ts --nats "$url" --bots 2 --slow 0 --requests-per-sec 5 --stats-ms 500 > "$work/traders.log" 2>&1 &
traders=$!
sleep 4
echo "before the attack: $(grep -c msg/s "$work/traders.log") status lines; last: $(grep msg/s "$work/traders.log" | tail -1 | cut -c1-60)"
node "$here/attack.mjs" "$port" &
attack=$!
sleep 6
if kill -0 "$traders" 2>/dev/null; then echo "traders: alive"; else wait "$traders"; echo "traders: exited with $?"; fi
echo "traders, last status line: $(grep msg/s "$work/traders.log" | tail -1 | cut -c1-60)"
echo "traders, what they said of the messages:"; grep -E 'reader closed|Error|refused|cannot decode|not a price' "$work/traders.log" | cut -c1-160 | sed 's/^/  /' | head -8
echo "services, last status line: $(grep 'bbo published' "$work/services.log" | tail -1)"
echo "services, 2 s later:        $(sleep 2; grep 'bbo published' "$work/services.log" | tail -1)"
wait "$attack" 2>/dev/null
kill "$traders" "$services" "$feeds" 2>/dev/null; wait "$traders" "$services" "$feeds" 2>/dev/null
pkill -f "traders/main.ts --group slow" 2>/dev/null
kill "$nats"; wait "$nats" 2>/dev/null
rm -rf "$work"
