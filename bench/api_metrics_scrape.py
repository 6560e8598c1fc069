"""Benchmark: ``GET /metrics`` with 10,000 jobs in the node's history.

The metrics are seeded once from the history when the API starts (jobs by outcome, durations,
pickup latencies) and kept up to date from events, so a scrape renders O(series), never the
history. Measured: seeding time, and the scrape over real HTTP (httpx, keep-alive) with 10,000
jobs on record vs with none (same process, same server code): the ratio shows a scrape does
not grow with the history. Target: < 50 ms per scrape with 10,000 jobs.

    .venv/bin/python bench/api_metrics_scrape.py [--jobs 10000] [--scrapes 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nosana_node.api.bus import LogBus
from nosana_node.api.view import JobEntry
from tests.api.apikit import serve

OUTCOMES = [("finished", "succeeded")] * 8 + [("finished", "failed"), ("finished", "expired"), ("quit", None)]


def history(n: int) -> list[JobEntry]:
    out = []
    for i in range(n):
        step, status = OUTCOMES[i % len(OUTCOMES)]
        claimed = 1.7e9 + i * 60
        out.append(
            JobEntry(
                job=f"job{i}",
                run=f"run{i}",
                market="m",
                step=step,
                claimed_at=claimed,
                run_time=int(claimed) - 1,
                started_at=claimed + 0.4 + (i % 7) / 10,
                ended_at=claimed + 5 + i % 3000,
                status=status,
                result_cid="Qm" + "x" * 44,
            )
        )
    return out


def measure(jobs: int, scrapes: int) -> tuple[float, list[float], int]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp,
        serve(Path(tmp) / "home", LogBus()) as api,
    ):
        entries = history(jobs)
        start = time.perf_counter()
        api.ctx.metrics.seed(entries)
        seeded = time.perf_counter() - start
        times = []
        with api.client() as client:
            size = len(client.get("/metrics").content)
            for _ in range(scrapes):
                start = time.perf_counter()
                response = client.get("/metrics")
                times.append(time.perf_counter() - start)
                assert response.status_code == 200
    return seeded, times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    _, empty, empty_size = measure(0, args.scrapes)
    seeded, full, size = measure(args.jobs, args.scrapes)
    print(f"/metrics scrape over HTTP, {args.scrapes} scrapes")
    for name, values, body in (("no history", empty, empty_size), (f"{args.jobs} jobs", full, size)):
        ordered = sorted(values)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        p50 = statistics.median(values)
        print(f"  {name:<12} {body:>6} bytes  p50 {p50 * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms")
    print(f"  seeding {args.jobs} jobs once at start: {seeded * 1000:.1f} ms")
    print(f"  ratio p50 ({args.jobs} jobs / none): {statistics.median(full) / statistics.median(empty):.2f}")
    print(f"  target < 50 ms: {'met' if statistics.median(full) < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
