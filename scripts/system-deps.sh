#!/usr/bin/env bash
# Install the Debian packages the platform and its test suite need, when they are missing:
# PostgreSQL (the suite's database), Redis (the background queue of several app servers), Chromium (browser tests), Noto CJK fonts and Pango (PDFs),
# FFmpeg (ffprobe reads the AIGC label of sampled clips).
# `system-deps.sh run` checks only what serving the platform needs (fonts and Pango).
set -euo pipefail
missing=()
if [ "${1:-test}" != "run" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v npm >/dev/null 2>&1 || missing+=(npm)  # axe-core for the accessibility test (scripts/npm-deps.sh)
fi
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || missing+=(fonts-noto-cjk)  # no -q: an early exit would SIGPIPE fc-list under pipefail
ldconfig -p 2>/dev/null | grep libpango-1.0 >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
