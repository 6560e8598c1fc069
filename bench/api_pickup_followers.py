"""Benchmark: the node's pickup latency with 200 live log followers attached to its jobs.

``localnet start`` and ``node start`` (its API on a free loopback port) run in their own
processes, as in ``bench/node_latency.py``. Trivial jobs are posted one after the other; for
each, pickup = ``list`` confirmed -> the job's first container started (the engine's timestamp).
First ``--jobs`` jobs with no follower (the baseline, same node, same run), then ``--jobs`` jobs
while a crowd process (asyncio, aiohttp) watches ``/status`` and, as soon as a job is the node's
current one, attaches ``--followers`` SSE followers to its log (operator token), which read it
to its end. The crowd's load falls on the node exactly while it picks the job up.
Printed: pickup p50/p95 without and with the crowd, the ratio, and how many follows completed.

    .venv/bin/python bench/api_pickup_followers.py [--jobs 20] [--followers 200]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from node_common import Setup, percentiles

CROWD = """
import asyncio, sys, aiohttp
url, token, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Authorization": "Bearer " + token}
done = 0

async def follow(session, job):
    global done
    async with session.get(f"{url}/jobs/{job}/logs?follow=1", headers=headers) as response:
        async for line in response.content:
            if line.startswith(b"event: end"):
                done += 1
                return

async def main():
    seen, tasks = set(), []
    stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        while not stop.done():
            async with session.get(f"{url}/status") as response:
                current = (await response.json()).get("current")
            if current and current["job"] not in seen:
                seen.add(current["job"])
                tasks += [asyncio.ensure_future(follow(session, current["job"])) for _ in range(size)]
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks, return_exceptions=True)
    print(done, len(seen))

asyncio.run(main())
"""


def pickups(setup: Setup, jobs: int) -> list[float]:
    out = []
    for _ in range(jobs):
        job, listed = setup.post()
        out.append(setup.container_started(job) - listed)
        setup.done(job)
        setup.wait_line(f"job {job} finished")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20, help="jobs without, then with, the crowd")
    parser.add_argument("--followers", type=int, default=200, help="followers attached to each job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Setup(Path(tmp)) as setup:
        setup.start_node()
        url = next(m.group(1) for line in setup.node_lines if (m := re.search(r"status page (\S+)/ ", line)))
        token = (Path(tmp) / "node" / "api-token").read_text().strip()
        alone = pickups(setup, args.jobs)
        crowd = subprocess.Popen(
            [sys.executable, "-c", CROWD, url, token, str(args.followers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            watched = pickups(setup, args.jobs)
        finally:
            out, _ = crowd.communicate("", timeout=600)
    done, jobs_seen = (int(x) for x in out.split())
    a50, a95 = percentiles(alone)
    w50, w95 = percentiles(watched)
    print(f"pickup latency (list confirmed -> first container started), {args.jobs} jobs each, local market")
    print(f"  no followers                      p50 {a50:5.2f} s   p95 {a95:5.2f} s")
    print(f"  {args.followers} followers per job           p50 {w50:5.2f} s   p95 {w95:5.2f} s")
    print(f"  ratio p50 {w50 / a50:.2f}, p95 {w95 / a95:.2f}")
    print(f"  follows read to their end: {done} on {jobs_seen} jobs")


if __name__ == "__main__":
    main()
