#!/usr/bin/env bash
# Make sure Debian's clang-19 (with the BPF target) is installed; used to build the jobs program.
set -euo pipefail
if command -v clang-19 >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-clang: clang-19 is missing and installing it needs root (apt-get install clang-19)" >&2
  exit 1
fi
echo "ensure-clang: installing Debian's clang-19" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq clang-19 >/dev/null
