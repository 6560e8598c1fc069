#!/usr/bin/env bash
# Make sure iptables (and ip6tables) are installed: the node's isolated job network sets its host
# firewall rules with them; the network tests also add a test host with iproute2 (`ip netns`).
set -euo pipefail
exec bash "$(dirname "$0")/apt-ensure.sh" ensure-iptables iptables:iptables ip:iproute2
