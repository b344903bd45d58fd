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

# Two witnesses on loopback and a 2-of-2 policy (docs/log.md), so the security console shows
# cosigned checkpoints from the first minute. Their keys and state live beside the database.
WITNESS_PORTS="${WITNESS_PORTS:-7381 7382}"
WITNESS_DIR="${WITNESS_DIR:-${YINGDU_VAR_DIR:-var}/witnesses}"
LOG_KEY="$("$BIN/yingdu" ledger key)"
policy="$WITNESS_DIR/policy.txt"
mkdir -p "$WITNESS_DIR"
: > "$policy"
names=()
n=0
for wport in $WITNESS_PORTS; do
  n=$((n + 1))
  vkey="$("$BIN/python" -m witness key --state "$WITNESS_DIR/$n" --name "witness-$n.local")"
  echo "witness witness-$n.local $vkey http://127.0.0.1:$wport" >> "$policy"
  names+=("witness-$n.local")
done
printf 'group local all %s\nquorum local\n' "${names[*]}" >> "$policy"
"$BIN/yingdu" ledger policy --load "$policy" > /dev/null

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

n=0
for wport in $WITNESS_PORTS; do
  n=$((n + 1))
  "$BIN/python" -m witness serve --state "$WITNESS_DIR/$n" --log "$LOG_KEY" --listen "127.0.0.1:$wport" > /dev/null &
  pids+=($!)
done
for wport in $WITNESS_PORTS; do
  for _ in $(seq 40); do (: < "/dev/tcp/127.0.0.1/$wport") 2>/dev/null && break; sleep 0.25; done
done
"$BIN/yingdu" ledger cosign || echo "(见证方暂未副署，后台任务每分钟重试)"

"$BIN/yingdu" run_huey &
pids+=($!)
echo "平台地址：http://$HOST:$PORT/"
"$BIN/yingdu" runserver "$HOST:$PORT" &
pids+=($!)
set +e
wait -n "${pids[@]}"
status=$?
exit $status
