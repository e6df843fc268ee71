#!/usr/bin/env bash
# bash reports/broker/protocol-diff/fuzz.sh <checkout> [trials] [seed] ['options ws']: fuzz.py against nats-server
# (the reference) and the broker of <checkout> with 1 and with 3 workers; with `ws` among the options,
# both over WebSocket (nats-server's websocket block, no TLS).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../connection-limits/start-broker.sh"
trials=${2:-600}; seed=${3:-3}
scheme=nats; listening="client connections on "
case " ${4:-} " in *" ws "*) scheme=ws; listening="websocket clients on ws://";; esac
printf 'listen: "127.0.0.1:-1"\nwebsocket { listen: "127.0.0.1:-1", no_tls: true }\n' > /tmp/protocol-diff-nats.conf
nats-server -c /tmp/protocol-diff-nats.conf -l /tmp/protocol-diff-nats.log & ns=$!
for _ in $(seq 1 50); do grep -q "$listening" /tmp/protocol-diff-nats.log 2>/dev/null && break; sleep 0.1; done
nport=$(grep -o "${listening}127.0.0.1:[0-9]*" /tmp/protocol-diff-nats.log | sed 's/.*://')
for workers in 1 3; do
  start_broker "$1" "$scheme" --ws-port 0 --http-port 0 --workers "$workers" > /tmp/protocol-diff-checkout.txt
  cut -c1-70 /tmp/protocol-diff-checkout.txt
  echo "tickfan, $workers worker(s), against nats-server $(nats-server --version | awk '{print $2}'), seed $seed ${4:-}:"
  python3 "$here/fuzz.py" "$nport,$port" "$trials" "$seed" ${4:-}
  stop_broker
done
kill $ns; wait $ns 2>/dev/null; rm -f /tmp/protocol-diff-nats.log /tmp/protocol-diff-nats.conf
