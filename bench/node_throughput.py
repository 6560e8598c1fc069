"""Benchmark: trivial jobs through one node, against the same pipelines run with `pipeline run`.

``localnet start`` and ``node start`` run in their own processes; ``--jobs`` trivial jobs (one
``echo`` in the project's busybox image) are listed one after the other while the node works
(it takes the oldest waiting job each time it is free); timed from the first ``list`` confirmed
to the last job seen DONE. The baseline runs the same pipeline ``--jobs`` times with
``nosana-node pipeline run`` back to back (a process each, as a person or a CI script would),
on the same engine. Prints jobs per minute for both and their ratio: the market's overhead
(chain, documents, results, finish) made visible.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from node_common import REPO, TRIVIAL, Setup, clean_env


def through_node(root: Path, jobs: int) -> float:
    """Seconds from the first list confirmed to the last job done."""
    with Setup(root) as setup:
        setup.start_node()
        posted = []
        first = None
        for _ in range(jobs):
            job, listed = setup.post()
            first = first or listed
            posted.append(job)
        last = max(setup.done(job, timeout=600) for job in posted)
        setup.stop_node()
    assert first is not None
    return last - first


def pipeline_runs(root: Path, jobs: int) -> float:
    """Seconds for ``jobs`` back-to-back ``pipeline run`` processes."""
    path = root / "trivial.yml"
    path.write_text(TRIVIAL)
    env = clean_env(NOSANA_HOME=str(root / "runs"))
    start = time.perf_counter()
    for _ in range(jobs):
        subprocess.run(
            [sys.executable, "-m", "nosana_node", "pipeline", "run", str(path), "--fresh"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = through_node(Path(tmp) / "node", args.jobs)
        base = pipeline_runs(Path(tmp), args.jobs)
    node_rate, base_rate = args.jobs * 60 / node, args.jobs * 60 / base
    print(f"node throughput: {args.jobs} trivial jobs")
    print(f"  `pipeline run` back to back (baseline)  {base:6.1f} s   {base_rate:6.1f} jobs/minute")
    print(f"  through one node on the local market    {node:6.1f} s   {node_rate:6.1f} jobs/minute"
          f"   ratio {node_rate / base_rate:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
