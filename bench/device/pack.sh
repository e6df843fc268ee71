#!/bin/bash
# Packs what a run on a machine without Node needs into .device/ (git-ignored): this machine's
# node and nats-server binaries and node_modules without the tools only tests and lint use,
# each xz-compressed (about 37 MB in all). Then, on that machine, from a copy of this tree with
# .device/ beside it: bash bench/device/run.sh OUT_DIR [quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d node_modules ] || { echo 'pack.sh: run npm install first (node_modules travels too)' >&2; exit 1; }
mkdir -p .device
xz -T0 -6 -c "$(command -v node)" > .device/node.xz
xz -T0 -9 -c "$(command -v nats-server)" > .device/nats-server.xz
tar -cf - \
  --exclude='node_modules/typescript' --exclude='node_modules/@rolldown' --exclude='node_modules/rolldown' \
  --exclude='node_modules/playwright-core' --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/@typescript-eslint' --exclude='node_modules/typescript-eslint' \
  --exclude='node_modules/eslint*' --exclude='node_modules/@eslint' --exclude='node_modules/vite' \
  --exclude='node_modules/vitest' --exclude='node_modules/@vitest' --exclude='node_modules/lightweight-charts' \
  --exclude='node_modules/@types' --exclude='node_modules/fast-check' --exclude='node_modules/.vite' \
  --exclude='node_modules/.cache' node_modules | xz -T0 -6 > .device/nm.tar.xz
du -sh .device/*
