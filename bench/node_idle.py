"""Benchmark: what a node waiting in a market's queue costs: RPC requests per minute and memory.

``localnet start`` and ``node start`` run in their own processes; the node talks to the market
through a counting proxy (``tests/faultproxy.py`` with no faults: it only counts). Once the node
is queued, every JSON-RPC request it sends during ``--seconds`` is counted (default 600: the
issue's ten minutes; a shorter run is extrapolated to requests per minute, and says so). The
node's resident memory (VmRSS, and its peak VmHWM) is read from ``/proc`` at the end.

Targets (issue 8): at most 1 request per minute on average (assignments come by subscription;
one read of the market every ``:node :recheck``, 5 minutes by default); idle RSS < 120 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from node_common import Setup

from tests.faultproxy import FaultPlan, FaultProxy

MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="idle time measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        market = Setup(root)
        try:
            summary = market.start_market()
            with FaultProxy(summary["rpc_url"], summary["ws_url"], FaultPlan()) as proxy:
                market._rpc_override = (proxy.rpc_url, proxy.ws_url)
                market.start_node()
                settle = threading.Event()
                settle.wait(3.0)  # the start-up reads (checks, recovery, join) are over
                before = proxy.stats["requests"]
                by_method_before = {k: v for k, v in proxy.stats.items() if k.startswith("requests:")}
                settle.wait(args.seconds)
                used = proxy.stats["requests"] - before
                methods = {
                    k.removeprefix("requests:"): v - by_method_before.get(k, 0)
                    for k, v in proxy.stats.items()
                    if k.startswith("requests:") and v - by_method_before.get(k, 0)
                }
                rss, peak = market.node_rss()
                connections = proxy.stats["ws-connections"]
                market.stop_node()  # while the proxy is up: it leaves the queue
        finally:
            market.close()
    per_minute = used * 60 / args.seconds
    extrapolated = "" if args.seconds >= 600 else f" (measured over {args.seconds:g} s, extrapolated)"
    print("node idle: a node waiting in the queue of the local market")
    print(f"  RPC requests      {used} in {args.seconds:g} s = {per_minute:.2f}/minute{extrapolated}"
          f" ({per_minute / 1.0:.2f} of the 1/minute target)  {methods or ''}")  # fmt: skip
    print(f"  PubSub sockets    {connections} opened")
    share = rss / (120 * 10**6)
    print(f"  node RSS          {rss / MIB:.1f} MiB (peak {peak / MIB:.1f} MiB; {share:.2f} of 120 MB)")


if __name__ == "__main__":
    main()
