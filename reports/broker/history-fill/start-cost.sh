#!/bin/bash
# What --history-preallocate costs a broker at start: time until its port accepts a connection,
# and its resident memory half a second later, twice with the flag and twice without
# (node flags as `npm run broker` gives them; ports 4333 and 8333).
#   bash reports/broker/history-fill/start-cost.sh
cd "$(dirname "$0")/../../.." || exit 1
for flag in --history-preallocate ''; do
  for _ in 1 2; do
    node -e '
      const { spawn } = require("node:child_process")
      const net = require("node:net")
      const fs = require("node:fs")
      const extra = process.argv.slice(1)
      const t0 = Date.now()
      const child = spawn(process.execPath, ["--min-semi-space-size=16", "--initial-old-space-size=64", "--import", "tsx",
        "broker/main.ts", "--port", "4333", "--http-port", "8333", "--ws-port=-1", "--log-level", "warn", ...extra], { stdio: "ignore" })
      const poll = () => {
        const s = net.connect(4333, "127.0.0.1", () => {
          const ms = Date.now() - t0
          s.destroy()
          setTimeout(() => {
            const rss = fs.readFileSync(`/proc/${child.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]
            console.log(`${extra[0] ?? "without"}: listening after ${ms} ms, RSS ${(rss / 1024).toFixed(0)} MiB`)
            child.kill()
          }, 500)
        })
        s.on("error", () => setTimeout(poll, 20))
      }
      poll()' -- $flag
    sleep 1
  done
done
