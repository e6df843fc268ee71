#!/bin/bash
# The wss port (TLS on the WebSocket port, a certificate made here) of a broker with
# --max-connections 20: 200 sockets that never begin the TLS handshake, given up after 5 s.
#   bash reports/broker/connection-limits/wss-silent.sh
#   CHECKOUT=/tmp/wt-before bash reports/broker/connection-limits/wss-silent.sh
here=$(dirname "$0")
. "$here/start-broker.sh"
pems=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pems/key.pem" -out "$pems/cert.pem" -days 1 -subj /CN=localhost 2> /dev/null
start_broker "${CHECKOUT:-$PWD}" wss --ws-port 0 --http-port=-1 --max-connections 20 --tls-cert "$pems/cert.pem" --tls-key "$pems/key.pem"
node --import tsx "$here/probe.ts" silent "$port" 200 5
stop_broker
rm -rf "$pems"
