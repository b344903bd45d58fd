#!/usr/bin/env bash
# Run every benchmark in bench/ and print its figures. Benchmark-only packages are installed here.
set -uo pipefail
BIN=.venv/bin
$BIN/pip install -q pymerkle >/dev/null 2>&1 || echo "(pymerkle could not be installed; comparisons skipped)"
status=0
for script in bench/*.py; do
  echo "== $script"
  $BIN/python "$script" || status=1
done
exit $status
