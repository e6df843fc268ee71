# Sourced by the scripts beside it. start_broker <checkout> <url scheme shown when ready> <broker args...>:
# starts `node --import tsx broker/main.ts` of <checkout> in the background (PREFIX, words, before it),
# sets pid, log and port (the port of the first <scheme>://127.0.0.1:<port> it printed).
start_broker () {
  local dir=$1 scheme=$2; shift 2
  log=$(mktemp)
  (cd "$dir" && exec ${PREFIX:-} node --import tsx broker/main.ts --workers 1 --host 127.0.0.1 --port 0 "$@") > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do grep -q "$scheme://127.0.0.1:" "$log" && break; sleep 0.2; done
  port=$(grep -o "$scheme://127.0.0.1:[0-9]*" "$log" | head -1 | sed 's/.*://')
  echo "checkout: $(git -C "$dir" log --oneline -1)"
}
stop_broker () { kill "$pid"; wait "$pid" 2>/dev/null; rm -f "$log"; }
