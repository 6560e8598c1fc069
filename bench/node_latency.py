"""Benchmark: how fast a waiting node picks a job up and finishes it, on the local market.

``localnet start`` and ``node start`` run in their own processes and homes (as on two hosts);
this process is the client. For each of ``--jobs`` trivial jobs (one ``echo`` in the project's
busybox image), posted one after the other while the node waits in the queue:

* pickup: ``list`` confirmed → the job's first container started (the engine's timestamp);
* list → finish: ``list`` confirmed → the job account seen DONE (the node's ``finish`` landed).

Targets (issue 8): pickup p50 ≤ 1.0 s, p95 ≤ 2 s; list → finish p50 ≤ 2.5 s. Printed with the
ratio to the target. The pickup is then split by the node's events (``node start --json``): the
chain's notice (``list`` confirmed → the node's ``claimed``: the run seen through its
subscription), the node's own work (``claimed`` → ``started``: job and run read, document
fetched and compiled, records saved), the runner (``started`` → container created: its engine
service, the job network, the image) and the engine (created → started).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from node_common import Setup, percentiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs posted one after the other")
    args = parser.parse_args()
    pickups, finishes = [], []
    parts: dict[str, list[float]] = {"notice": [], "node": [], "runner": [], "engine": []}
    with tempfile.TemporaryDirectory() as tmp, Setup(Path(tmp)) as setup:
        setup.start_node("--json")
        for _ in range(args.jobs):
            job, listed = setup.post()
            started = setup.container_started(job)
            done = setup.done(job)
            pickups.append(started - listed)
            finishes.append(done - listed)
            setup.wait_line(f"job {job} finished")
            claimed, flow = setup.event("claimed", job), setup.event("started", job)
            parts["notice"].append(claimed - listed)
            parts["node"].append(flow - claimed)
            created = setup.container_created(job)
            parts["runner"].append(created - flow)
            parts["engine"].append(started - created)
    p50, p95 = percentiles(pickups)
    f50, f95 = percentiles(finishes)
    print(f"node latency: {args.jobs} trivial jobs posted one by one to a waiting node (local market)")
    print(f"  pickup (list confirmed → first container started)  p50 {p50:5.2f} s ({p50 / 1.0:.2f} of 1.0 s)"
          f"   p95 {p95:5.2f} s ({p95 / 2.0:.2f} of 2 s)")  # fmt: skip
    print(f"  list confirmed → finish confirmed                  p50 {f50:5.2f} s ({f50 / 2.5:.2f} of 2.5 s)"
          f"   p95 {f95:5.2f} s")  # fmt: skip
    labels = {
        "notice": "list confirmed → run seen by the node (claimed)",
        "node": "claimed → flow started (reads, document, compile)",
        "runner": "flow started → container created (runner, engine calls)",
        "engine": "container created → started (engine)",
    }
    print("  the pickup, split by the node's events:")
    for key, label in labels.items():
        a, b = percentiles(parts[key])
        print(f"    {label:<58} p50 {a:5.2f} s   p95 {b:5.2f} s")


if __name__ == "__main__":
    main()
