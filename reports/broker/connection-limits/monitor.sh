#!/bin/bash
# The monitoring port of a broker against 40 sockets that say nothing: how many it closes at
# once (past its cap) and when it closes the rest. CHECKOUT=<dir> runs another checkout's broker.
#   bash reports/broker/connection-limits/monitor.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/monitor.sh
here=$PWD
dir=${CHECKOUT:-$PWD}
log=$(mktemp)
(cd "$dir" && exec node --import tsx broker/main.ts --workers 1 --host 127.0.0.1 --port 0 --ws-port=-1 --http-port 0) > "$log" 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q 'Monitoring  *http://' "$log" && break; sleep 0.2; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
echo "checkout: $(git -C "$dir" log --oneline -1)"
node -e '
const net = require("node:net")
const [port, count, limitMs] = [Number(process.argv[1]), 40, 15000]
const started = Date.now()
const closedAt = []
for (let i = 0; i < count; i++) {
  const s = net.connect(port, "127.0.0.1"); s.on("error", () => {})
  s.on("close", () => closedAt.push(Date.now() - started))
  setTimeout(() => s.destroy(), limitMs)
}
setTimeout(() => {
  const early = closedAt.filter((ms) => ms < 1000).length
  const idle = closedAt.filter((ms) => ms >= 1000 && ms < limitMs - 50)
  console.log(`${count} silent sockets: ${early} closed within 1 s, ${idle.length} closed later (at ${idle.length ? (Math.min(...idle) / 1000).toFixed(1) + "-" + (Math.max(...idle) / 1000).toFixed(1) + " s" : "-"}), ${count - early - idle.length} still open after ${limitMs / 1000} s`)
  process.exit(0)
}, limitMs - 20)
' "$port"
kill "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"
