"""Benchmark: how fast a cancelled job's container is gone, and what running a group at once gives.

Two measures, each against a plain baseline in the same process:

- cancel latency: a one-job flow (``sleep 300``) runs in a worker thread; the test cancels its
  token and times, with the engine's own event timestamps, the moment the container is
  destroyed. Baseline: the same container started through the API and removed with one
  ``remove_container(force=True)`` (kill + remove), timed the same way. Target: p95 < 2 s.
- concurrency: N jobs of ``sleep 1`` as one group (started together) vs the same N jobs one
  after the other (no group). The ratio shows what the concurrent runtime saves.

    .venv/bin/python bench/flow_seams.py [--rounds 10] [--jobs 4]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import docker

from nosana_node import wiring
from nosana_node.docker import labels
from nosana_node.docker.run_op import run_args
from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.model import Flow, Op
from nosana_node.flow.runner import FlowRunner
from nosana_node.settings import RunnerSettings

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")


def job(op_id: str, command: str, group: str | None) -> Op:
    return Op(id=op_id, type="docker/run", args=run_args(IMAGE, [command]), group=group)


class Events:
    """Container events with a label, from the engine's stream."""

    def __init__(self, api: Any, label: str) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stream = api.events(decode=True, filters={"type": "container", "label": [label]})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self.queue.put(event)
        except Exception:  # closed
            pass

    def next(self, action: str) -> dict[str, Any]:
        while True:
            event = self.queue.get(timeout=120)
            if event.get("Action") == action:
                return event

    def close(self) -> None:
        self._stream.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def cancel_latency(runner: FlowRunner, api: Any, rounds: int) -> tuple[list[float], list[float]]:
    ours, plain = [], []
    events = Events(api, f"{labels.STORE}={runner.store.store_id}")
    bench_events = Events(api, "io.nosana.bench=seams")
    try:
        for n in range(rounds):
            cancel = runner.cancel_token()
            flow = Flow(id=f"cancel-{n}", name="cancel", ops=[job("long", "sleep 300", None)])
            thread = threading.Thread(target=runner.run, args=(flow,), kwargs={"cancel": cancel}, daemon=True)
            thread.start()
            events.next("start")
            at = time.time()
            cancel.cancel(CancelReason.STOPPED, "bench")
            ours.append(events.next("destroy")["timeNano"] / 1e9 - at)
            thread.join()

            cid = api.create_container(IMAGE, ["sleep", "300"], labels={"io.nosana.bench": "seams"})["Id"]
            api.start(cid)
            bench_events.next("start")
            at = time.time()
            api.remove_container(cid, force=True)
            plain.append(bench_events.next("destroy")["timeNano"] / 1e9 - at)
    finally:
        events.close()
        bench_events.close()
    return ours, plain


def concurrency(runner: FlowRunner, jobs: int, rounds: int) -> tuple[float, float]:
    together, apart = [], []
    for n in range(rounds):
        for grouped, times in ((True, together), (False, apart)):
            ops = [job(f"j{i}", "sleep 1", "all" if grouped else None) for i in range(jobs)]
            start = time.perf_counter()
            flow = runner.run(Flow(id=f"group-{grouped}-{n}", name="group", ops=ops))
            times.append(time.perf_counter() - start)
            assert str(flow.status) == "succeeded", flow.status
    return statistics.median(together), statistics.median(apart)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nosana-bench-"))
    api = docker.APIClient(version="auto")
    runner = FlowRunner(RunnerSettings(home=work / "home"), wiring.op_types())
    try:
        ours, plain = cancel_latency(runner, api, args.rounds)
        print(f"cancel → container destroyed, {args.rounds} rounds (engine event times)")
        for name, values in (("nosana-node cancel token", ours), ("plain remove_container(-f)", plain)):
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"  {name:26} p50 {p50:.3f}s  p95 {p95:.3f}s")
        ratio = statistics.median(ours) / statistics.median(plain)
        print(f"  ratio ours / plain (p50)   {ratio:.2f}  (target: p95 < 2 s)")
        rounds = max(1, args.rounds // 3)
        together, apart = concurrency(runner, args.jobs, rounds)
        print(f"{args.jobs} jobs of `sleep 1`, {rounds} rounds, medians")
        print(f"  one group (together)       {together:.3f}s")
        print(f"  one after the other        {apart:.3f}s")
        print(f"  ratio together / apart     {together / apart:.2f}")
    finally:
        runner.close()
        for container in labels.store_containers(api, runner.store.store_id):
            api.remove_container(container["Id"], force=True)
        api.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
