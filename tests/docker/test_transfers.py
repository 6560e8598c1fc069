"""Transfers are part of the job: its time limit and its cancel hold while resources go in and
artifacts come out, and the artifact cap holds as the bytes arrive.

The job's time limit is on an injected clock, moved by the test when the engine reports the
transfer (``extract-to-dir``: something was put in the container, ``archive-path``: an archive
of it is being read); nothing sleeps.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nosana_node.artifacts.store import ArtifactStore, ArtifactTooLargeError
from nosana_node.clock import ManualClock
from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.model import FlowStatus, OpStatus
from nosana_node.flow.results import Reason
from nosana_node.pipeline.prepare import prepare_pipeline
from tests.corekit import EngineEvents, flow_runner, leftover_containers, pipeline, write
from tests.docker.test_seams import Run

pytestmark = pytest.mark.docker

LIMIT = 60.0  # the job's time limit, on the test's clock
MIB = 1024 * 1024

#: a job making a 512 MiB artifact in no time (a sparse file: the engine's archive holds every byte)
BIG_ARTIFACT = (
    "  - name: big\n"
    "    commands: ['mkdir -p out', 'truncate -s 512M out/zeros']\n"
    "    artifacts: [{name: out, path: out}]\n"
)


def run_moving_the_clock(home: Path, text: str, action: str, move: float, **settings: object) -> object:
    """Run ``text`` with the job time limit on a manual clock, moved by ``move`` seconds when the
    engine first reports ``action`` for one of the flow's containers; returns the flow."""
    clock = ManualClock(start=time.time())
    runner = flow_runner(home, clock=clock, job_timeout=LIMIT, **settings)
    path = write(home.parent, text)
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id) as events, Run(runner, flow, runner.cancel_token()) as run:
            events.wait(action)
            clock.advance(move)
            return run.result(timeout=120)
    finally:
        runner.close()


def test_taking_an_artifact_out_counts_in_the_jobs_time(home: Path) -> None:
    flow = run_moving_the_clock(
        home, pipeline(BIG_ARTIFACT), "archive-path", LIMIT + 1, artifact_cap=256 * MIB
    )
    state = flow.states["big"]  # type: ignore[attr-defined]
    assert (state.status, state.reason) == (OpStatus.FAILED, Reason.TIMEOUT)
    assert state.error == f"timed out after {LIMIT:g}s while taking artifact 'out' out"
    assert state.exit_code == 0  # the commands themselves succeeded
    assert list((home / "flows" / flow.id / "artifacts" / "tmp").iterdir()) == []  # type: ignore[attr-defined]
    assert leftover_containers(home) == []


def test_placing_resources_counts_in_the_jobs_time(home: Path) -> None:
    text = pipeline(
        "  - name: make\n    commands: ['mkdir -p out', 'echo hi > out/hi']\n"
        "    artifacts: [{name: out, path: out}]\n",
        "  - name: use\n    commands: ['cat out/hi', 'sleep 300']\n    resources: [{name: out, path: .}]\n",
    )
    flow = run_moving_the_clock(home, text, "extract-to-dir", LIMIT + 1)
    state = flow.states["use"]  # type: ignore[attr-defined]
    # the limit passed while the resources went in: the op ends there, or at the latest as it
    # starts (then its container is killed); either way the job's time held
    assert (state.status, state.reason) == (OpStatus.FAILED, Reason.TIMEOUT)
    assert state.error in (
        f"timed out after {LIMIT:g}s while placing the resources",
        f"timed out after {LIMIT:g}s (container killed)",
    )
    assert leftover_containers(home) == []


def test_a_cancel_cuts_an_artifact_coming_out(home: Path) -> None:
    runner = flow_runner(home)
    path = write(home.parent, pipeline(BIG_ARTIFACT))
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id) as events:
            cancel = runner.cancel_token()
            with Run(runner, flow, cancel) as run:
                events.wait("archive-path")
                cancel.cancel(CancelReason.STOPPED, "by the test")
                result = run.result(timeout=60)
    finally:
        runner.close()
    assert result.status is FlowStatus.STOPPED
    assert result.states["big"].status is OpStatus.STOPPED
    assert list((home / "flows" / result.id / "artifacts" / "tmp").iterdir()) == []
    assert leftover_containers(home) == []


def test_the_cap_refuses_the_chunk_that_crosses_it_and_nothing_of_it_is_written(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    with store.writer(cap=10, what="artifact 'x'") as writer:
        writer.write(b"12345678")
        with pytest.raises(ArtifactTooLargeError, match=r"^artifact 'x' exceeds the artifact cap of 10 B$"):
            writer.write(b"abc")
        assert writer.size == 8 and writer.tmp_path.stat().st_size == 8
    assert list(store.tmp_dir.iterdir()) == []  # left unfinished: removed
