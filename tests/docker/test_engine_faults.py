"""Engine faults are not job failures, and no engine can hold a run past its deadline.

These tests stop or freeze an engine: they use a private one (``private_engine``: a second dockerd
of the test's own), never the shared engine other test suites are using. Every wait is on the
engine's event stream or on the run's end; the only durations asserted are upper bounds on how
long a run may hang on a frozen engine (its time limit or deadline, the grace, and slack for this
shared 2-core machine).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from nosana_node.clock import ManualClock
from nosana_node.docker import labels
from nosana_node.docker.guard import STOP_GRACE
from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.model import FlowStatus, OpStatus
from nosana_node.flow.results import Reason
from nosana_node.flow.store import FlowStore
from nosana_node.pipeline.prepare import prepare_pipeline
from tests.corekit import (
    WAIT_FOR_GO,
    EngineEvents,
    cli,
    flow_runner,
    let_go,
    new_store,
    no_traceback,
    pipeline,
    start_cli,
    write,
)
from tests.docker.privengine import PrivateEngine
from tests.docker.test_seams import Run

pytestmark = pytest.mark.docker

#: scheduling slack on this shared machine (a bound on hanging, not a speed claim)
SLACK = 15.0


def left_on(engine: PrivateEngine, home: Path) -> list[dict[str, Any]]:
    """Containers of the store under ``home`` still on ``engine``."""
    store = FlowStore(home)
    api = engine.api()
    try:
        return labels.store_containers(api, store.store_id)
    finally:
        api.close()
        store.close()


def load(home: Path, flow_id: str | None = None) -> Any:
    store = FlowStore(home)
    try:
        return store.load(flow_id or store.list(1)[0].id)
    finally:
        store.close()


def test_a_stopped_engine_interrupts_the_flow_and_resume_runs_only_what_did_not_finish(
    tmp_path: Path, home: Path, private_engine: PrivateEngine
) -> None:
    path = write(
        tmp_path,
        pipeline(
            "  - name: first\n    commands: ['echo one']\n",
            f"  - name: second\n    commands: ['echo two', '{WAIT_FOR_GO}', 'echo done']\n",
        ),
    )
    store_id = new_store(home)
    flags = ("--docker-url", private_engine.url, "--network", "none")
    with EngineEvents(store_id, private_engine.url) as events:
        proc = start_cli("pipeline", "run", str(path), *flags, home=home)
        events.wait("start", count=2)  # the second job runs
        private_engine.stop()
        _, err = proc.communicate(timeout=120)
    flow = load(home)
    assert proc.returncode == 1, err
    assert no_traceback(err)
    (line,) = err.splitlines()
    assert line.startswith(
        "error: interrupted: cannot run the job container: the Docker engine is unreachable ("
    )
    assert line.endswith(f"; flow {flow.id} is saved, continue it with `nosana-node flow resume {flow.id}`")
    assert flow.status is FlowStatus.INTERRUPTED
    first, second = flow.states["first"], flow.states["second"]
    assert (first.status, first.run_count) == (OpStatus.SUCCEEDED, 1)
    assert (second.status, second.reason) == (OpStatus.INTERRUPTED, Reason.ENGINE_UNREACHABLE)

    private_engine.start()
    with EngineEvents(store_id, private_engine.url) as events:
        proc = start_cli("flow", "resume", flow.id, *flags, home=home)
        (started,) = events.wait("start")
        api = private_engine.api()
        try:
            let_go(api, started["id"])
        finally:
            api.close()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    flow = load(home, flow.id)
    assert flow.status is FlowStatus.SUCCEEDED
    assert flow.states["first"].run_count == 1  # finished: never run again
    assert (flow.states["second"].status, flow.states["second"].run_count) == (OpStatus.SUCCEEDED, 2)
    assert "second | done" in out and "first |" not in out
    assert left_on(private_engine, home) == []


def test_a_frozen_engine_cannot_hold_a_job_past_its_time_limit(
    home: Path, private_engine: PrivateEngine
) -> None:
    limit = 3.0
    runner = flow_runner(home, docker_url=private_engine.url, network="none", job_timeout=limit)
    path = write(home.parent, pipeline("  - name: stuck\n    commands: ['echo started', 'sleep 300']\n"))
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with (
            EngineEvents(runner.store.store_id, private_engine.url) as events,
            Run(runner, flow, runner.cancel_token()) as run,
        ):
            events.wait("start")
            private_engine.freeze()
            try:
                result = run.result(timeout=limit + STOP_GRACE + SLACK)
            finally:
                private_engine.thaw()
            events.wait("destroy")  # what the runner asked of the frozen engine, it does once thawed
    finally:
        runner.close()
    state = result.states["stuck"]
    assert result.status is FlowStatus.INTERRUPTED  # resumable: the engine failed, not the job
    assert (state.status, state.reason) == (OpStatus.INTERRUPTED, Reason.ENGINE_UNREACHABLE)
    assert state.error == (
        f"the job container did not stop: the Docker engine did not answer within {STOP_GRACE:g}s "
        f"after the job's time limit ({limit:g}s)"
    )
    assert result.error == f"interrupted: {state.error}"
    assert left_on(private_engine, home) == []


def test_a_frozen_engine_cannot_hold_a_run_past_its_deadline(
    home: Path, private_engine: PrivateEngine
) -> None:
    clock = ManualClock(start=time.time())
    runner = flow_runner(home, docker_url=private_engine.url, network="none", clock=clock, job_timeout=3600)
    path = write(home.parent, pipeline("  - name: long\n    commands: ['sleep 300']\n"))
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id, private_engine.url) as events:
            cancel = runner.cancel_token(deadline=clock.now() + 600)
            with Run(runner, flow, cancel) as run:
                events.wait("start")
                private_engine.freeze()
                try:
                    clock.advance(600)  # the deadline passes while the engine answers nothing
                    result = run.result(timeout=STOP_GRACE + SLACK)
                finally:
                    private_engine.thaw()
                events.wait("destroy")
    finally:
        runner.close()
    state = result.states["long"]
    assert result.status is FlowStatus.EXPIRED  # the deadline holds: final, as without the fault
    assert (state.status, state.reason) == (OpStatus.EXPIRED, Reason.EXPIRED)
    assert left_on(private_engine, home) == []


def test_a_cancel_while_the_engine_creates_the_container_leaves_none(
    home: Path, private_engine: PrivateEngine
) -> None:
    runner = flow_runner(home, docker_url=private_engine.url, network="none")
    path = write(home.parent, pipeline("  - name: job\n    commands: ['sleep 300']\n"))
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id, private_engine.url) as events:
            cancel = runner.cancel_token()
            with Run(runner, flow, cancel) as run:
                events.wait("create")  # made by the engine; its answer may not have left it yet
                private_engine.freeze()
                try:
                    cancel.cancel(CancelReason.INTERRUPTED, "signal SIGTERM")
                    result = run.result(timeout=STOP_GRACE + SLACK)
                finally:
                    private_engine.thaw()
                events.wait("destroy")  # removed once the engine answers, whenever its answer came
    finally:
        runner.close()
    assert result.status is FlowStatus.INTERRUPTED
    assert result.states["job"].status is OpStatus.INTERRUPTED
    assert left_on(private_engine, home) == []


def test_an_engine_frozen_before_the_run_is_one_line_within_the_api_timeout(
    tmp_path: Path, home: Path, private_engine: PrivateEngine
) -> None:
    """The engine takes connections but answers nothing: every call has its timeout, so the run
    ends with one line (not a hang, not a failed flow) soon after ``:docker :api-timeout``."""
    path = write(tmp_path, pipeline("  - name: job\n    commands: ['echo hi']\n"))
    private_engine.freeze()
    try:
        proc = cli(
            "--set",
            "docker.api-timeout=2s",
            "pipeline",
            "run",
            str(path),
            "--docker-url",
            private_engine.url,
            "--network",
            "none",
            home=home,
            timeout=2 * 3 + SLACK,
        )
    finally:
        private_engine.thaw()
    assert proc.returncode == 1, proc.stderr
    assert no_traceback(proc.stderr)
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        f"error: no Docker engine answers at {private_engine.url}: it did not answer within 2s;"
    )
    store = FlowStore(home)
    try:
        assert all(summary.status is not FlowStatus.FAILED for summary in store.list())
    finally:
        store.close()
    assert left_on(private_engine, home) == []
