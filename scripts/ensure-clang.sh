#!/usr/bin/env bash
# Make sure Debian's clang-19 (with the BPF target) is installed; used to build the jobs program.
set -euo pipefail
exec bash "$(dirname "$0")/apt-ensure.sh" ensure-clang clang-19:clang-19
