#!/bin/bash
# Where the time under tsx goes: the bundled publish path (built by reports/broker/micro-variants.sh into
# node_modules/.bundle-micro.mjs; run that first) profiled with --cpu-prof alone and with --import=tsx, in
# turn, ROUNDS times; prints each profile's self time of the broker's busiest functions (ms).
#   bash reports/broker/bundle/profile.sh
cd "$(dirname "$0")/../../.." || exit 1
dir=$(mktemp -d)
for round in $(seq ${ROUNDS:-2}); do
  for v in plain tsx; do
    flag=--no-warnings; [ $v = tsx ] && flag=--import=tsx
    node --cpu-prof --cpu-prof-dir=$dir/$v-$round --min-semi-space-size=16 --initial-old-space-size=64 \
      --max-inlined-bytecode-size-cumulative=1840 $flag node_modules/.bundle-micro.mjs --subscribers 2 --subject trade \
      --messages 3000000 --history-preallocate --json > $dir/$v-$round.json
  done
done
DIR=$dir npx tsx -e '
import { readdirSync, readFileSync } from "node:fs"
import { summarizeProfile } from "./bench/report/profile.ts"
const dir = process.env.DIR
const names = ["publishLine", "route", "append", "writeDelivery", "deliverMessage", "deliver", "subjectFacts", "reuse"]
for (const run of readdirSync(dir).filter((d) => !d.endsWith(".json")).sort()) {
  // The main thread wrote the largest profile (tsx adds its hooks thread).
  const files = readdirSync(`${dir}/${run}`).map((f) => `${dir}/${run}/${f}`)
  const file = files.sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]
  const s = summarizeProfile(JSON.parse(readFileSync(file, "utf8")), 1000)
  const ns = JSON.parse(readFileSync(`${dir}/${run}.json`, "utf8"))
  const ms = (name) => (s.byFunction.filter((f) => f.name.split(" ")[0] === name).reduce((a, f) => a + f.selfUs, 0) / 1000).toFixed(0)
  console.log(`${run.padEnd(8)} ${(ns.seconds / ns.messages * 1e9).toFixed(0)} ns/msg (profiled)  ` + names.map((n) => `${n} ${ms(n)}`).join("  "))
}'
rm -rf $dir
