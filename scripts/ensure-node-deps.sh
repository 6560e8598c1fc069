#!/usr/bin/env bash
# Install what the TypeScript client tests need, idempotently: Node.js and npm (Debian), then the
# exact npm packages of every tests/**/package-lock.json, or of the directories given as
# arguments (`npm ci`, only when the lock changed; node_modules stays next to the lock,
# git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh ensure-node-deps node:nodejs npm:npm
if [ $# -gt 0 ]; then
  locks=$(for dir in "$@"; do echo "$dir/package-lock.json"; done)
else
  locks=$(find tests -name package-lock.json -not -path '*/node_modules/*' | sort)
fi
for lock in $locks; do
  dir=$(dirname "$lock")
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock-sha256" 2>/dev/null || true)" = "$want" ]; then
    continue
  fi
  echo "ensure-node-deps: npm ci in $dir" >&2
  rm -rf "$dir/node_modules"
  log=$(mktemp)
  if ! (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null 2>"$log"); then
    cat "$log" >&2
    reason=$(grep -m1 -E '^npm error (FetchError|[0-9]{3} |notarget|E[A-Z]+:|.*(failed|Invalid|not found))' "$log" \
      || grep -m1 '^npm error' "$log" || echo "npm ci exited non-zero")
    rm -f "$log"
    # the last line says what failed, for the test that ran this script to quote
    echo "ensure-node-deps: npm ci in $dir failed (registry $(npm config get registry)): ${reason#npm error }" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$want" >"$dir/node_modules/.lock-sha256"
done
