#!/usr/bin/env bash
# Run a command against a throw-away Redis: redis-server on a free port of 127.0.0.1,
# no persistence, in a temporary folder, stopped and removed afterwards even when the command fails.
# Exports REDIS_URL for the command (the suite's Redis tests and the production-stack test use it).
set -euo pipefail

REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
[ -x "$REDIS_SERVER" ] || { echo "redis-server not found (install redis-server)" >&2; exit 1; }

tmp="$(mktemp -d -t yingdu-redis.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
pid=""

cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" >/dev/null 2>&1 || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --dir "$tmp" --save "" --appendonly no \
  --protected-mode yes --daemonize no --logfile "$tmp/server.log" &
pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port),0.2); s.sendall(b'PING\r\n'); sys.exit(0 if s.recv(16).startswith(b'+PONG') else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
export REDIS_URL="redis://127.0.0.1:$port/0"
echo "Redis $("$REDIS_SERVER" --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$port"
set +e
"$@"
status=$?
exit $status
