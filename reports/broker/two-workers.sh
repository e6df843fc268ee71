# Sourced by the mesh probes (mesh-behind/, mesh-hello/). run_probe <probe.ts> <probe args...> -- <broker args...>:
# starts a two-worker broker of ${CHECKOUT:-this checkout} (NATS and monitoring on free ports, no WebSocket),
# runs `node --import tsx <probe.ts> <nats port> <broker pid> <probe args...>` with HTTP_PORT set, then stops it.
run_probe () {
  local probe=$1; shift
  local args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  local root log pid port http
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  log=$(mktemp)
  (cd "${CHECKOUT:-$root}" && exec node --import tsx broker/main.ts --workers 2 --host 127.0.0.1 --port 0 --http-port 0 --ws-port=-1 "$@") > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do grep -q "http://127.0.0.1:" "$log" && grep -q "nats://127.0.0.1:" "$log" && break; sleep 0.2; done
  port=$(grep -o "nats://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
  http=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
  HTTP_PORT=$http node --import tsx "$probe" "$port" "$pid" "${args[@]}"
  kill -INT "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"
}
