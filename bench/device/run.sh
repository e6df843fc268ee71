#!/bin/bash
# On a many-core machine without Node (see pack.sh): the multi-core sweep (bench:scaling, 1, 2,
# 4 ... workers against nats-server's GOMAXPROCS), then max-throughput with steps up to 1M msgs/s
# (bench/device/max-throughput-wide.json), each under a time limit. Reports and logs go to
# OUT_DIR (scaling/ and mt/). `quick` checks the whole path in about a minute.
set -u
OUT_DIR=$1; QUICK=${2:-}
cd "$(dirname "$0")/../.."
T0=$(date +%s)
mkdir -p /tmp/bin "$OUT_DIR"
xz -dc .device/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node
xz -dc .device/nats-server.xz > /tmp/bin/nats-server && chmod +x /tmp/bin/nats-server
[ -d node_modules ] || tar -xJf .device/nm.tar.xz
export PATH=/tmp/bin:$PATH
echo "unpacked in $(( $(date +%s) - T0 )) s; nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo); taskset: $(command -v taskset); node $(node --version); $(nats-server --version)"
if [ -n "$QUICK" ]; then
  SCALE="--max-workers 2 --seconds 0.5 --repeat 1"; MT="--repeat 1"; ST=120; MTT=200
else
  SCALE="--seconds 3 --repeat 3"; MT="--repeat 3"; ST=200; MTT=280
fi
timeout $ST node --import tsx bench/scaling.ts $SCALE --out "$OUT_DIR/scaling" 2>&1 | tee "$OUT_DIR/scaling.log" | tail -n 40
echo "scaling rc ${PIPESTATUS[0]} at $(( $(date +%s) - T0 )) s"
timeout $MTT node --import tsx bench/suite.ts --workloads bench/device/max-throughput-wide.json --http-seconds 0 $MT \
  --out "$OUT_DIR" --stamp mt 2>&1 | tee "$OUT_DIR/mt.log" | tail -n 70
echo "max-throughput rc ${PIPESTATUS[0]} at $(( $(date +%s) - T0 )) s"
