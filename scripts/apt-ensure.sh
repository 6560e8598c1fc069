#!/usr/bin/env bash
# Install Debian packages whose command is missing: `apt-ensure.sh WHO COMMAND:PACKAGE ...`.
# Does nothing when every command is there; installing needs root (WHO names the caller in
# messages). Idempotent.
set -euo pipefail
who=$1
shift
missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$who: ${missing[*]} missing and installing needs root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "$who: installing Debian's ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
