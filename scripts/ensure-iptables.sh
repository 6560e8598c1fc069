#!/usr/bin/env bash
# Make sure iptables (and ip6tables) are installed: the node's isolated job network sets its host
# firewall rules with them, and the network tests add a test host with iproute2 (`ip netns`).
# Installs Debian's iptables and iproute2 when missing (as root). Idempotent: does nothing when
# both are there.
set -euo pipefail

missing=()
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-iptables: ${missing[*]} missing and installing needs root" >&2
  exit 1
fi
echo "ensure-iptables: installing Debian's ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
