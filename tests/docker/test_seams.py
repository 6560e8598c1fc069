"""The seams of the node loop on the real engine: cancel from another thread, deadlines, flows
with a given id, mask scopes, and ops of one group running at the same time.

Every wait is on the engine's own event stream (a container started, was destroyed), every
duration is measured with the engine's timestamps; nothing sleeps to order events.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nosana_node.clock import ManualClock
from nosana_node.docker import labels
from nosana_node.docker.run_op import run_args
from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.model import Flow, FlowStatus, Op
from nosana_node.flow.result import flow_result
from nosana_node.flow.results import Reason
from nosana_node.pipeline.prepare import prepare_pipeline
from nosana_node.secrets.masking import process_masker
from tests.corekit import (
    IMAGE,
    WAIT_FOR_GO,
    EngineEvents,
    event_time,
    flow_runner,
    job_log,
    leftover_containers,
    let_go,
    pipeline,
)
from tests.flow.test_refs_logs_settings import StaticSecrets

pytestmark = pytest.mark.docker

GONE_WITHIN = 2.0  # seconds from cancel (or deadline) to the container removed


def job(op_id: str, *commands: str, group: str | None = None) -> Op:
    """A ``docker/run`` op as a job definition would compile to (not through a pipeline)."""
    return Op(id=op_id, type="docker/run", args=run_args(IMAGE, list(commands)), group=group)


class Run:
    """A flow running in a worker thread (as the node loop runs them); leaving the block stops it
    (if the test failed first) and waits for it, so nothing outlives the test."""

    def __init__(self, runner: Any, flow: Flow, cancel: Any) -> None:
        self.out: dict[str, Any] = {}
        self.cancel = cancel
        self.thread = threading.Thread(
            target=self._work, args=(runner, flow), kwargs={"cancel": cancel}, daemon=True
        )
        self.thread.start()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel.cancel(CancelReason.STOPPED, "the test ended")
        self.thread.join(60)

    def _work(self, runner: Any, flow: Flow, **kwargs: Any) -> None:
        try:
            self.out["flow"] = runner.run(flow, **kwargs)
        except BaseException as exc:
            self.out["error"] = exc

    def result(self, timeout: float = 60) -> Flow:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not end"
        if "error" in self.out:
            raise self.out["error"]
        return self.out["flow"]


def write_pipeline(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home.parent / "pipeline.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("reason", [CancelReason.STOPPED, CancelReason.INTERRUPTED])
def test_cancel_from_another_thread_kills_and_removes_the_container_within_2s(
    home: Path, reason: CancelReason
) -> None:
    path = write_pipeline(
        home,
        pipeline(
            "  - name: first\n    commands: ['echo ready']\n",
            "  - name: long\n    commands: ['echo started', 'sleep 300']\n",
            "  - name: never\n    commands: ['echo never']\n",
        ),
    )
    runner = flow_runner(home)
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id) as events:
            cancel = runner.cancel_token()
            with Run(runner, flow, cancel) as run:
                events.wait("start", count=2)  # the long job's container runs
                cancelled_at = time.time()
                cancel.cancel(reason, "by the test")
                (destroyed,) = events.wait("destroy", count=2)[1:]
                assert event_time(destroyed) - cancelled_at < GONE_WITHIN
                result = run.result()
    finally:
        runner.close()
    assert leftover_containers(home) == []
    long = result.states["long"]
    assert (str(long.status), long.reason) == (str(reason), Reason(reason.value))
    assert long.error == f"{reason}: by the test" and result.error == f"{reason}: by the test"
    assert "started" in job_log(result, "long", "stdout")
    if reason is CancelReason.STOPPED:  # final: the rest is skipped, the flow is over
        assert result.status is FlowStatus.STOPPED and str(result.states["never"].status) == "skipped"
    else:  # resumable: the rest waits
        assert result.status is FlowStatus.INTERRUPTED and str(result.states["never"].status) == "pending"
    document = flow_result(result)
    assert document["status"] == str(reason) and document["jobs"][1]["reason"] == str(reason)


def test_the_deadline_on_an_injected_clock_expires_the_job(home: Path) -> None:
    clock = ManualClock(start=time.time())
    path = write_pipeline(home, pipeline("  - name: slow\n    commands: ['sleep 300']\n"))
    runner = flow_runner(home, clock=clock, job_timeout=3600)  # one clock for the job's limit and deadline
    try:
        flow = prepare_pipeline(path, runner.store).flow
        with EngineEvents(runner.store.store_id) as events:
            cancel = runner.cancel_token(deadline=clock.now() + 600)
            with Run(runner, flow, cancel) as run:
                events.wait("start")
                clock.advance(599)
                assert not cancel.cancelled and not events.seen("die")
                expired_at = time.time()
                clock.advance(1)  # the deadline passes: the alarm fires in this thread
                (destroyed,) = events.wait("destroy")
                assert event_time(destroyed) - expired_at < GONE_WITHIN
                result = run.result()
    finally:
        runner.close()
    assert result.status is FlowStatus.EXPIRED
    state = result.states["slow"]
    assert str(state.status) == "expired" and state.reason is Reason.EXPIRED
    assert state.error is not None and state.error.startswith("expired: deadline ")


def test_a_flow_with_a_given_id_labels_its_containers_and_is_found_by_it(home: Path) -> None:
    job_address = "9ZNTfG4NyQgxy2SWjSiQoUyBPEvXT2xo7fKc5hPYYJ7b"
    path = write_pipeline(home, pipeline("  - name: hello\n    commands: ['echo hello from a job']\n"))
    runner = flow_runner(home)
    try:
        prepared = prepare_pipeline(path, runner.store, flow_id=job_address)
        with EngineEvents(runner.store.store_id) as events:
            result = runner.run(prepared.flow)
            (started,) = events.wait("start")
        found = runner.get(job_address)
    finally:
        runner.close()
    assert started["Actor"]["Attributes"][labels.FLOW] == job_address
    assert result.status is FlowStatus.SUCCEEDED and found is not None
    assert found.to_json() == result.to_json()
    assert "hello from a job" in job_log(found, "hello")
    assert Path(found.states["hello"].log["path"]).is_relative_to(home / "flows" / job_address)


def test_a_flows_secrets_are_dropped_from_the_masker_after_it(home: Path) -> None:
    secret = "job-scoped-secret-" + os.urandom(6).hex()
    before = (process_masker().open_scopes, len(process_masker()))
    path = write_pipeline(
        home,
        pipeline(
            "  - name: uses\n"
            "    environment: {TOKEN: {type: nos/vault, value: api#token}}\n"
            '    commands: [\'printf "token=%s\\n" "$TOKEN"\']\n'
        ),
    )
    runner = flow_runner(home, secrets=StaticSecrets({"api#token": secret}))
    try:
        result = runner.run(prepare_pipeline(path, runner.store).flow)
    finally:
        runner.close()
    assert result.status is FlowStatus.SUCCEEDED
    assert "token=[MASKED]" in job_log(result, "uses") and secret not in job_log(result, "uses")
    assert all(secret not in p.read_text(errors="replace") for p in home.rglob("*.jsonl"))
    assert secret.encode() not in (home / "state.db").read_bytes()
    assert process_masker().mask(secret) == secret  # the node forgot it with the flow
    assert (process_masker().open_scopes, len(process_masker())) == before


def test_two_ops_of_a_group_overlap_in_time(home: Path, api: Any) -> None:
    # each job waits until the test lets it go, which it does only once BOTH containers run:
    # run one after the other, the second would never start and the first would never end
    flow = Flow(
        id="overlap",
        name="overlap",
        ops=[
            job("left", WAIT_FOR_GO, "echo left done", group="pair"),
            job("right", WAIT_FOR_GO, "echo right done", group="pair"),
        ],
    )
    runner = flow_runner(home)
    cancel = runner.cancel_token()
    try:
        with EngineEvents(runner.store.store_id) as events, Run(runner, flow, cancel) as run:
            started = events.wait("start", count=2, timeout=60)  # fails if they do not run together
            for event in started:
                let_go(api, event["Actor"]["ID"])
            died = events.wait("die", count=2)
            result = run.result()
    finally:
        runner.close()
    assert result.status is FlowStatus.SUCCEEDED, {k: s.error for k, s in result.states.items()}
    # the engine's own timestamps: both started before either ended
    assert max(event_time(e) for e in started) < min(event_time(e) for e in died)
    assert {e["Actor"]["Attributes"][labels.OP] for e in started} == {"left", "right"}


def test_a_cancelled_concurrent_flow_leaves_no_container(home: Path) -> None:
    flow = Flow(
        id="three-at-once",
        name="three",
        ops=[job(name, "sleep 300", group="all") for name in ("one", "two", "three")],
    )
    runner = flow_runner(home)
    try:
        with EngineEvents(runner.store.store_id) as events:
            cancel = runner.cancel_token()
            with Run(runner, flow, cancel) as run:
                events.wait("start", count=3)
                stopped_at = time.time()
                cancel.cancel(CancelReason.STOPPED, "job stopped")
                destroyed = events.wait("destroy", count=3)
                assert max(event_time(e) for e in destroyed) - stopped_at < GONE_WITHIN
                result = run.result()
    finally:
        runner.close()
    assert result.status is FlowStatus.STOPPED
    assert {str(s.status) for s in result.states.values()} == {"stopped"}
    assert leftover_containers(home) == []
