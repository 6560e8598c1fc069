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
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  echo "$want" >"$dir/node_modules/.lock-sha256"
done
