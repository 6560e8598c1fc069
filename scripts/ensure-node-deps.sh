#!/usr/bin/env bash
# Install what the TypeScript client tests need, idempotently: Node.js and npm (Debian), then the
# exact npm packages of every tests/**/package-lock.json, or of the directories given as
# arguments (`npm ci`, only when the lock changed; node_modules stays next to the lock,
# git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-node-deps: node and npm are missing and installing them needs root (apt-get install nodejs npm)" >&2
    exit 1
  fi
  echo "ensure-node-deps: installing Debian's nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
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
