"""Benchmark: a two-group job definition with a service, against the same containers by hand.

The job: group ``setup`` writes a page into a volume; group ``pair`` runs a web server (busybox
``httpd``, port 8080 exposed with an HTTP health check) that serves a client op, which waits
until the server is ready, fetches the page and ends, upon which the server is stopped. Run,
alternately for several rounds, by the node (in process: compile + ``FlowRunner``) and by a
plain script of docker CLI calls doing the same (volume, setup container, network, server
published on loopback, poll until 200, client, remove all). Both poll every 50 ms.

Prints the medians of start → server ready and of the total, and the ratios node / plain.

    .venv/bin/python bench/jobdef_service.py [--rounds 5]
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
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
INTERVAL = 0.05
PAGE = "echo hello > /www/index.html"
HTTPD = "exec httpd -f -p 8080 -h /www"


def definition() -> dict:
    volume = [{"name": "www", "dest": "/www"}]
    probe = {
        "type": "http",
        "path": "/index.html",
        "method": "GET",
        "expected_status": 200,
        "continuous": False,
    }
    return {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "id": "www",
                "type": "container/create-volume",
                "args": {"name": "www"},
                "execution": {"group": "setup"},
            },
            {
                "id": "page",
                "type": "container/run",
                "args": {"image": IMAGE, "cmd": PAGE, "volumes": volume},
                "execution": {"group": "setup", "depends_on": ["www"]},
            },
            {
                "id": "server",
                "type": "container/run",
                "args": {
                    "image": IMAGE,
                    "cmd": HTTPD,
                    "volumes": volume,
                    "expose": [{"port": 8080, "health_checks": [probe]}],
                },
                "execution": {"group": "pair", "depends_on": ["client"], "stop_if_dependent_stops": True},
            },
            {
                "id": "client",
                "type": "container/run",
                "args": {"image": IMAGE, "cmd": "wget -q -O - http://%%ops.server.host%%:8080/index.html"},
                "execution": {"group": "pair"},
            },
        ],
    }


def node_round(home: Path) -> tuple[float, float]:
    from nosana_node.docker.container_op import ContainerRun, CreateVolume
    from nosana_node.flow.registry import OpRegistry
    from nosana_node.flow.runner import FlowRunner
    from nosana_node.jobdef import loads
    from nosana_node.jobdef.compile import compile_job
    from nosana_node.jobdef.settings import JobdefSettings
    from nosana_node.settings import RunnerSettings

    settings = JobdefSettings(health_interval=INTERVAL)
    runner = FlowRunner(RunnerSettings(home=home), OpRegistry([ContainerRun(settings), CreateVolume()]))
    try:
        started = time.time()
        flow = runner.run(compile_job(loads(json.dumps(definition()))))
        ended = time.time()
    finally:
        runner.close()
    assert flow.status.value == "succeeded", [s.error for s in flow.states.values()]
    return flow.states["server"].ready_at - started, ended - started  # type: ignore[operator]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def plain_round() -> tuple[float, float]:
    tag = uuid.uuid4().hex[:10]
    volume, network, server = f"bench-{tag}", f"bench-{tag}", f"bench-srv-{tag}"
    started = time.time()
    try:
        docker("volume", "create", volume)
        docker("run", "--rm", "-v", f"{volume}:/www", IMAGE, "sh", "-c", PAGE)
        docker("network", "create", network)
        docker(
            "run", "-d", "--name", server, "--network", network, "--network-alias", "server",
            "-p", "127.0.0.1::8080", "-v", f"{volume}:/www", IMAGE, "sh", "-c", HTTPD,
        )  # fmt: skip
        port = docker("port", server, "8080/tcp").splitlines()[0].rsplit(":", 1)[1]
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).status == 200:
                    break
            except OSError:
                pass
            time.sleep(INTERVAL)
        ready = time.time()
        docker(
            "run",
            "--rm",
            "--network",
            network,
            IMAGE,
            "wget",
            "-q",
            "-O",
            "-",
            "http://server:8080/index.html",
        )
    finally:
        subprocess.run(["docker", "rm", "-f", server], capture_output=True)
        subprocess.run(["docker", "network", "rm", network], capture_output=True)
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True)
    return ready - started, time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    ours: list[tuple[float, float]] = []
    plain: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            ours.append(node_round(Path(tmp) / f"home-{n}"))
            plain.append(plain_round())
    for label, index in (("start → ready", 0), ("total", 1)):
        a = statistics.median(r[index] for r in ours)
        b = statistics.median(r[index] for r in plain)
        print(f"{label:14} node {a:6.3f} s   plain docker {b:6.3f} s   ratio {a / b:4.2f}")


if __name__ == "__main__":
    main()
