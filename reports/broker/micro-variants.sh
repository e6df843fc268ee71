#!/bin/bash
# The socket-free publish path (bench/micro/publish-path.ts), bundled once into one ES module, run in
# interleaved rounds under several node command lines. Prints ns per message per variant and round.
# VARIANTS: words NAME=FLAGS, the flags joined by commas (NAME= for none); PATHS: words SUBJECT:SUBSCRIBERS.
#   bash reports/broker/micro-variants.sh    (tsx's parts beside the bundle: reports/broker/bundle.md)
#   VARIANTS="920=--max-inlined-bytecode-size-cumulative=920 1840=--max-inlined-bytecode-size-cumulative=1840" \
#     PATHS="trade:2 plain:2 plain:10 quote:10" bash reports/broker/micro-variants.sh   (reports/broker/inlining.md)
cd "$(dirname "$0")/../.." || exit 1
entry=bench/micro/.bundle-entry.ts
out=node_modules/.bundle-micro.mjs
# The benchmark imports the router from a root chosen at run time; the bundle imports it statically.
sed -e "s#^  const { Router } = await import(.*#  const { Router } = RouterStatic#" \
    -e "s#^  const { resolveOptions } = await import(.*#  const { resolveOptions } = OptionsStatic#" bench/micro/publish-path.ts > $entry
sed -i "1i import * as RouterStatic from '../../broker/router.ts'\nimport * as OptionsStatic from '../../broker/options.ts'" $entry
# Bundled as the broker is (broker/bundle.ts).
ENTRY=$entry OUT=$out npx tsx -e 'import { bundleBroker } from "./broker/bundle.ts"; bundleBroker(process.env.ENTRY, process.env.OUT)'
rm -f $entry
hooks=$(mktemp -d)
printf 'export async function resolve (s, c, next) { return next(s, c) }\nexport async function load (u, c, next) { return next(u, c) }\n' > $hooks/hooks.mjs
printf "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n" > $hooks/register.mjs
printf 'process.setSourceMapsEnabled(true)\n' > $hooks/source-maps.mjs
variants=${VARIANTS:-plain= tsx=--import=tsx tsx/esm=--import=tsx/esm tsx/cjs=--require=tsx/cjs no-op-hooks=--import=$hooks/register.mjs source-maps=--import=$hooks/source-maps.mjs}
messages=${MESSAGES:-3000000}
echo "$(${NODE:-node} --version); ns per message, $messages messages per run; node ${NODE:-node}"
for round in $(seq ${ROUNDS:-4}); do
  line="round $round:"
  for p in ${PATHS:-trade:2}; do
    for v in $variants; do
      name=${v%%=*}; flags=${v#*=}
      ns=$(${NODE:-node} --min-semi-space-size=16 --initial-old-space-size=64 ${flags//,/ } $out --subject ${p%%:*} \
        --subscribers ${p#*:} --messages $messages --history-preallocate --json \
        | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);process.stdout.write((r.seconds/r.messages*1e9).toFixed(0))})')
      line="$line  $p $name $ns"
    done
  done
  echo "$line"
done
rm -rf $hooks
