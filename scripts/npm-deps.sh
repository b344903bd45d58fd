#!/usr/bin/env bash
# Install the npm packages the test suite needs into build/npm (git-ignored): axe-core, which the
# accessibility test injects into each page through Playwright. Needs node and npm (Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION=4.14.1
target=build/npm/node_modules/axe-core
if [ -f "$target/axe.min.js" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$target/package.json"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm not found (apt-get install npm)" >&2; exit 1; }
mkdir -p build/npm
npm install --silent --no-audit --no-fund --prefix build/npm "axe-core@$AXE_VERSION" >/dev/null
echo "installed axe-core $AXE_VERSION into build/npm"
