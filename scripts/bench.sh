#!/usr/bin/env bash
# Run every benchmark in bench/ and print its figures, then every figure beside its baseline
# (the lines that give a ratio) together at the end. Benchmark-only packages are installed here.
set -uo pipefail
BIN=.venv/bin
$BIN/pip install -q pymerkle >/dev/null 2>&1 || echo "(pymerkle could not be installed; comparisons skipped)"
out="$(mktemp -t yingdu-bench.XXXXXX)"
trap 'rm -f "$out"' EXIT
status=0
for script in bench/*.py; do
  echo "== $script" | tee -a "$out"
  $BIN/python "$script" 2>&1 | tee -a "$out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
echo
echo "== every figure beside its baseline (ratio; targets in brackets)"
awk '/^== bench\//{name=$2} /ratio|×|[0-9]x \(/{print name ": " $0}' "$out"
exit $status
