#!/usr/bin/env bash
# `make run`: the development server and the background worker (Huey on var/huey.sqlite3) side by
# side, on the SQLite database; Ctrl-C (or either of them ending) stops both.
# HOST and PORT choose the address (default 127.0.0.1:8000).
set -euo pipefail
BIN="${BIN:-.venv/bin}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

bash scripts/system-deps.sh run || echo "(PDF output needs fonts-noto-cjk and Pango)"
"$BIN/yingdu" migrate --noinput
"$BIN/yingdu" demo  # immediate mode: the demo's own e-mails stay in memory

# Not immediate mode: web requests enqueue, the worker runs the tasks and the periodic jobs.
export HUEY_IMMEDIATE=0
set -m
pids=()
cleanup() {
  trap - EXIT INT TERM
  # Each runs in its own process group (set -m): the reloader's child goes with its parent.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

"$BIN/yingdu" run_huey &
pids+=($!)
echo "平台地址：http://$HOST:$PORT/"
"$BIN/yingdu" runserver "$HOST:$PORT" &
pids+=($!)
set +e
wait -n "${pids[@]}"
status=$?
exit $status
