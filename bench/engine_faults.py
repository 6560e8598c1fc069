"""Benchmark: caps and deadlines that hold while bytes stream and while the engine fails.

Three measures, each against a plain baseline in the same process:

- artifact over the cap: a stopped container holds a 5 GiB file (sparse: the engine's archive
  holds every byte); taking it out with a cap C is refused - bytes written under the home and
  seconds until the refusal, against taking out a file just under C (accepted, same path);
- the job's time limit during a transfer: a job whose 5 GiB artifact cannot come out in its
  time (limit L, cap 8 GiB): how long past L the op ends, and what is left under the home;
  baseline: a job that sleeps past L (killed by the limit while it runs);
- a frozen engine: a job of a private dockerd (SIGSTOP once the job starts) with limit L: how
  long past L the run ends; baseline: the same job on the same engine, not frozen. Needs root.

    .venv/bin/python bench/engine_faults.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nosana_node.artifacts.store import ArtifactStore, ArtifactTooLargeError
from nosana_node.docker import transfer
from nosana_node.docker.guard import STOP_GRACE, OpGuard
from nosana_node.flow.cancel import CancelToken
from nosana_node.units import approx_size
from tests.corekit import IMAGE, flow_runner, pipeline, run_pipeline

MIB = 1024 * 1024
GIB = 1024 * MIB


def stopped_container(api: Any, command: str) -> str:
    created = api.create_container(IMAGE, ["/bin/sh", "-c", command], labels={"io.nosana.bench": "faults"})
    api.start(created["Id"])
    api.wait(created["Id"])
    return created["Id"]


def take_out(api: Any, container: str, path: str, cap: int, root: Path) -> tuple[float, int, bool]:
    """Seconds, bytes written, refused?"""
    store = ArtifactStore(root)
    token = CancelToken()
    started = time.perf_counter()
    with OpGuard(token, None) as guard, store.writer(cap, "artifact") as writer:
        try:
            transfer.collect(api, container, path, writer, guard)
        except ArtifactTooLargeError:
            return time.perf_counter() - started, writer.size, True
        return time.perf_counter() - started, writer.size, False


def artifact_cap(api: Any, rounds: int) -> None:
    print("artifact over the cap (5 GiB file): refused vs a file just under the cap taken whole")
    big = stopped_container(api, "truncate -s 5G /big")
    root = Path(tempfile.mkdtemp(prefix="bench-cap-"))
    try:
        for cap in (64 * MIB, 256 * MIB, GIB):
            under = stopped_container(api, f"truncate -s {cap - MIB} /under")
            try:
                refused, plain = [], []
                for _ in range(rounds):
                    seconds, written, was_refused = take_out(api, big, "/big", cap, root)
                    assert was_refused and written <= cap
                    refused.append((seconds, written))
                    seconds, _, was_refused = take_out(api, under, "/under", cap, root)
                    assert not was_refused
                    plain.append(seconds)
                left = sum(f.stat().st_size for f in (root / "tmp").iterdir())
                r, p = statistics.median(s for s, _ in refused), statistics.median(plain)
                print(
                    f"  cap {approx_size(cap):>9}: refused after {approx_size(max(w for _, w in refused))} "
                    f"in {r:.2f}s; {approx_size(cap - MIB)} taken whole in {p:.2f}s; ratio {r / p:.2f}; "
                    f"left under home: {left} B"
                )
            finally:
                api.remove_container(under, force=True)
    finally:
        api.remove_container(big, force=True)
        shutil.rmtree(root, ignore_errors=True)


def past_limit(flow: Any, job: str, limit: float) -> float:
    state = flow.states[job]
    return state.ended_at - state.started_at - limit


def time_limit(rounds: int) -> None:
    limit = 4.0
    print(f"the job's time limit ({limit:g}s) during a transfer: how long past it the op ends")
    transfer_over, run_over = [], []
    for _ in range(rounds):
        home = Path(tempfile.mkdtemp(prefix="bench-limit-")) / "home"
        try:
            text = pipeline(
                "  - name: big\n    commands: ['mkdir -p out', 'truncate -s 5G out/big']\n"
                "    artifacts: [{name: out, path: out}]\n"
            )
            flow = run_pipeline(home, text, job_timeout=limit, artifact_cap=8 * GIB)
            assert flow.states["big"].reason == "timeout", flow.states["big"].error
            assert list((home / "flows" / flow.id / "artifacts" / "tmp").iterdir()) == []
            transfer_over.append(past_limit(flow, "big", limit))
            slow = pipeline("  - name: slow\n    commands: ['sleep 60']\n")
            flow = run_pipeline(home, slow, job_timeout=limit)
            run_over.append(past_limit(flow, "slow", limit))
        finally:
            shutil.rmtree(home.parent, ignore_errors=True)
    t, r = statistics.median(transfer_over), statistics.median(run_over)
    print(f"  taking a 5 GiB artifact out: ended {t:.2f}s past the limit (nothing left under home)")
    print(f"  baseline, a job killed while it runs: {r:.2f}s past the limit")


def frozen_engine(rounds: int) -> None:
    from tests.docker.privengine import PrivateEngine, usable

    why = usable()
    if why is not None:
        print(f"frozen engine: skipped ({why})")
        return
    limit = 3.0
    print(f"a frozen engine (SIGSTOP once the job runs), limit {limit:g}s: how long past it the run ends")
    engine = PrivateEngine()
    try:
        engine.start()
        engine.load_image()
        frozen, plain = [], []
        for n in range(rounds * 2):
            freeze = n % 2 == 0
            home = Path(tempfile.mkdtemp(prefix="bench-freeze-")) / "home"
            runner = flow_runner(home, docker_url=engine.url, network="none", job_timeout=limit)
            api = engine.api()
            events = api.events(decode=True, filters={"type": "container", "label": ["io.nosana.node=1"]})

            def watch(events: Any = events, freeze: bool = freeze) -> None:
                for event in events:
                    if event.get("Action") == "start":
                        if freeze:
                            engine.freeze()
                        return

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                from nosana_node.pipeline.prepare import prepare_pipeline

                path = home.parent / "p.yml"
                home.mkdir(parents=True, exist_ok=True)
                path.write_text(pipeline("  - name: job\n    commands: ['sleep 60']\n"))
                flow = runner.run(prepare_pipeline(path, runner.store).flow)
                (frozen if freeze else plain).append(past_limit(flow, "job", limit))
            finally:
                engine.thaw()
                events.close()
                api.close()
                runner.close()
                shutil.rmtree(home.parent, ignore_errors=True)
        f, p = statistics.median(frozen), statistics.median(plain)
        print(f"  frozen: the run ended {f:.2f}s past the limit (grace {STOP_GRACE:g}s)")
        print(f"  baseline, the same engine answering: {p:.2f}s past the limit")
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    api = docker.APIClient(version="auto")
    try:
        artifact_cap(api, args.rounds)
    finally:
        api.close()
    time_limit(args.rounds)
    frozen_engine(args.rounds)


if __name__ == "__main__":
    main()
