"""Benchmark: live log latency, a line printed in a job's container -> received by an SSE client.

The job prints ``T <sec>.<usec>`` lines (the kernel's wall clock, read in the container with
busybox ``adjtimex``) every 50 ms; ``--followers`` clients (asyncio, aiohttp, in one other
process) follow the job's log over HTTP (``GET /jobs/{job}/logs?follow=1``, Server-Sent Events)
and note when each line arrives. The
latency of a line is its arrival time minus the time printed in it (one clock: the containers
share the host's kernel). The node's path: engine attach stream -> op log sink (decode, mask,
store) -> log bus -> fan-out -> event loop -> socket. Baseline in the same run: the same
container read straight from the engine's attach stream by this process (docker SDK), no node.
Target: p50 < 100 ms.

    .venv/bin/python bench/api_live_latency.py [--lines 100] [--followers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nosana_node.api.bus import LogBus
from tests.api.apikit import FlowThread, Recorder, gated, job_address, open_gate, serve

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
STAMP = "adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf \"T %d.%06d\\n\", s, u}'"

CLIENT = """
import asyncio, json, sys, time, aiohttp
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = []

async def follow(session):
    async with session.get(url, headers={"Authorization": "Bearer " + token}) as response:
        async for raw in response.content:
            now = time.time()
            if not raw.startswith(b"data: "):
                continue
            record = json.loads(raw[6:])
            if record["type"] == "end":
                return
            if record["type"] == "log":
                out.extend((float(t[2:]), now) for t in record["d"].splitlines() if t.startswith("T "))

async def main():
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        await asyncio.gather(*(follow(session) for _ in range(n)))

asyncio.run(main())
print(json.dumps(out))
"""


def script(lines: int) -> str:
    return f"i=0; while [ $i -lt {lines} ]; do {STAMP}; usleep 50000; i=$((i+1)); done"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def node_path(lines: int, followers: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        home = Path(tmp) / "home"
        bus, job = LogBus(), job_address()
        recorder = Recorder(bus)
        with serve(home, bus) as api:
            run = FlowThread(home, bus, gated(script(lines)), job).start()
            recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
            url = f"{api.url}/jobs/{job}/logs?follow=1"
            client = subprocess.Popen(
                [sys.executable, "-c", CLIENT, url, api.token, str(followers)],
                stdout=subprocess.PIPE,
                text=True,
            )
            fanout = api.server.api.fanout  # type: ignore[union-attr]
            deadline = time.monotonic() + 120
            while fanout.followers(job) < followers and time.monotonic() < deadline:
                time.sleep(0.01)
            open_gate(job)
            result = json.loads(client.communicate(timeout=300)[0])
            run.join(300)
        recorder.close()
    return [max(0.0, got - sent) for sent, got in result]


def baseline(lines: int) -> list[float]:
    import docker

    api = docker.APIClient(version="auto")
    container = api.create_container(IMAGE, ["sh", "-c", script(lines)], labels={"io.nosana.bench": "1"})
    try:
        stream = api.attach(container["Id"], stream=True, stdout=True, stderr=True, logs=True)
        api.start(container["Id"])
        out, buffer = [], b""
        for chunk in stream:
            now = time.time()
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            out += [max(0.0, now - float(line[2:])) for line in done if line.startswith(b"T ")]
        return out
    finally:
        api.remove_container(container["Id"], force=True)
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--followers", type=int, default=1)
    args = parser.parse_args()
    base = baseline(args.lines)
    ours = node_path(args.lines, args.followers)
    print(f"live log latency, {args.lines} lines, {args.followers} SSE follower(s) in another process")
    for name, values in (("engine attach (baseline)", base), ("node API (SSE)", ours)):
        print(
            f"  {name:<26} n={len(values):<5} p50 {pct(values, 50) * 1000:7.1f} ms"
            f"  p95 {pct(values, 95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"
        )
    print(f"  ratio p50 {statistics.median(ours) / max(statistics.median(base), 1e-6):.2f}")
    print(f"  target p50 < 100 ms: {'met' if pct(ours, 50) < 0.1 else 'NOT met'}")


if __name__ == "__main__":
    main()
