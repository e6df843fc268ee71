#!/bin/bash
# The same broker code, bundled once, run by the socket-free micro benchmark (bench/micro/publish-path.ts,
# trades to 2 subscribers, the history preallocated) as a plain ES module and with each of tsx's parts
# loaded beside it, in interleaved rounds. Prints ns per message per variant and round.
#   bash reports/broker/bundle/micro.sh            (ROUNDS=4, MESSAGES=3000000)
cd "$(dirname "$0")/../../.." || exit 1
entry=bench/micro/.bundle-entry.ts
out=node_modules/.bundle-micro.mjs
# The benchmark imports the router from a root chosen at run time; the bundle imports it statically.
sed -e "s#^  const { Router } = await import(.*#  const { Router } = RouterStatic#" \
    -e "s#^  const { resolveOptions } = await import(.*#  const { resolveOptions } = OptionsStatic#" bench/micro/publish-path.ts > $entry
sed -i "1i import * as RouterStatic from '../../broker/router.ts'\nimport * as OptionsStatic from '../../broker/options.ts'" $entry
npx esbuild $entry --bundle --platform=node --format=esm --target=node20 --packages=external --outfile=$out --log-level=warning
rm -f $entry
hooks=$(mktemp -d)
printf 'export async function resolve (s, c, next) { return next(s, c) }\nexport async function load (u, c, next) { return next(u, c) }\n' > $hooks/hooks.mjs
printf "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n" > $hooks/register.mjs
printf 'process.setSourceMapsEnabled(true)\n' > $hooks/source-maps.mjs
echo "node $(node --version); ns per message, ${MESSAGES:-3000000} trades to 2 subscribers"
for round in $(seq ${ROUNDS:-4}); do
  line="round $round:"
  for v in plain tsx tsx/esm tsx/cjs no-op-hooks source-maps; do
    case $v in
      plain) flag=--no-warnings;; tsx|tsx/esm) flag=--import=$v;; tsx/cjs) flag=--require=tsx/cjs;;
      no-op-hooks) flag=--import=$hooks/register.mjs;; source-maps) flag=--import=$hooks/source-maps.mjs;;
    esac
    ns=$(node --min-semi-space-size=16 --initial-old-space-size=64 $flag $out --subscribers 2 --subject trade \
      --messages ${MESSAGES:-3000000} --history-preallocate --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);process.stdout.write((r.seconds/r.messages*1e9).toFixed(0))})')
    line="$line  $v $ns"
  done
  echo "$line"
done
rm -rf $hooks
