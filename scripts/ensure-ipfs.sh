#!/usr/bin/env bash
# Install and prepare what the storage tests check CIDs against, idempotently:
#   - Debian's ipfs-cid (/usr/bin/ipfs_cid), an independent implementation of ipfs add's CIDs;
#   - the JS IPFS node (npm ipfs 0.66.1, the same RPC API as kubo; kubo has no installable binary
#     here), installed with `npm install` (locked) from scripts/jsipfs/package-lock.json into
#     $NOSANA_JSIPFS_DIR (default ~/.cache/nosana-node/jsipfs-<lock hash>), plus a repository
#     template there (repo-template/) made by `jsipfs init --profile test` with no swarm
#     addresses, no bootstrap peers and API, gateway and gRPC on loopback port 0. The tests copy
#     the template and run `jsipfs daemon --offline` on it.
# Prints the install directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/jsipfs/package-lock.json"
hash="$(sha256sum "$lock" | cut -c1-12)"
dir="${NOSANA_JSIPFS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nosana-node/jsipfs-$hash}"

if ! command -v ipfs_cid >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-ipfs: Debian's ipfs-cid is missing and installing it needs root (apt-get install ipfs-cid)" >&2
    exit 1
  fi
  echo "ensure-ipfs: installing Debian's ipfs-cid" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq ipfs-cid >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq ipfs-cid >/dev/null; }
fi

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-ipfs: $tool is needed for the JS IPFS node" >&2; exit 1; }
done

if [ ! -f "$dir/.installed" ]; then
  echo "ensure-ipfs: installing npm ipfs 0.66.1 into $dir (a few minutes, once)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$here/jsipfs/package.json" "$lock" "$dir/"
  # install scripts stay off: the prebuilt leveldb binding loads at run time
  (cd "$dir" && npm install --no-audit --no-save --no-fund --ignore-scripts --loglevel=error >&2)
  touch "$dir/.installed"
fi

if [ ! -f "$dir/repo-template/.prepared" ]; then
  echo "ensure-ipfs: preparing the JS IPFS repository template" >&2
  rm -rf "$dir/repo-template" "$dir/repo-template.tmp"
  export IPFS_PATH="$dir/repo-template.tmp"
  jsipfs="$dir/node_modules/.bin/jsipfs"
  "$jsipfs" init --profile test >/dev/null
  "$jsipfs" config --json Addresses.Swarm '[]'
  "$jsipfs" config --json Bootstrap '[]'
  "$jsipfs" config Addresses.API /ip4/127.0.0.1/tcp/0
  "$jsipfs" config Addresses.Gateway /ip4/127.0.0.1/tcp/0
  "$jsipfs" config Addresses.RPC /ip4/127.0.0.1/tcp/0
  "$jsipfs" config --json Discovery.MDNS.Enabled false
  touch "$IPFS_PATH/.prepared"
  mv "$IPFS_PATH" "$dir/repo-template"
fi
echo "$dir"
