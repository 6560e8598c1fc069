"""What job definitions leave on the real engine when their run is cut short: an interrupted
flow keeps its volume and network for its resumption; once the flow is over (or gone from the
store) the next run's start, or `flow cleanup`, removes them; `flow cleanup --abandon` gives up
interrupted flows so that theirs go too. Another store's objects are never touched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.docker.labels import FLOW, NODE, STORE
from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.model import Flow, FlowStatus, Op
from nosana_node.flow.store import FlowStore
from tests.corekit import cli, engine
from tests.jobdef.runkit import Events, compile_data, job, leftovers, run, runner

HOLD = [{"name": "data", "dest": "/data"}]


class InterruptWhenHolding(Events):
    """Interrupts the run (as a node shutting down) once the holding op has written its line."""

    token = None

    def op_output(self, op: Op, stream: str, text: str) -> None:
        super().op_output(op, stream, text)
        if "holding" in text and self.token is not None:
            self.token.cancel(CancelReason.INTERRUPTED, "the test interrupts it")


def interrupted_flow(home: Path) -> Flow:
    """A job definition run interrupted while an op uses its volume (on its own job network)."""
    data = job(
        [
            {"id": "make", "type": "container/create-volume", "args": {"name": "data"}},
            {"id": "hold", "args": {"cmd": "echo holding; sleep 300", "volumes": HOLD}},
        ]
    )
    flow_runner = runner(home)
    events = InterruptWhenHolding()
    try:
        with flow_runner.cancel_token() as token:
            events.token = token
            flow = flow_runner.run(compile_data(data), cancel=token, reporter=events)
    finally:
        flow_runner.close()
    assert flow.status is FlowStatus.INTERRUPTED, flow.error
    return flow


@pytest.fixture
def foreign() -> Iterator[str]:
    """A volume of another store, labelled for a flow that store does not have (never ours to remove)."""
    api = engine()
    name = f"nosana-test-foreign-{uuid.uuid4().hex[:8]}"
    api.create_volume(name, labels={NODE: "1", STORE: "another-store", FLOW: "not-a-flow"})
    try:
        yield name
    finally:
        api.remove_volume(name, force=True)
        api.close()


@pytest.fixture(autouse=True)
def nothing_left(home: Path) -> Iterator[None]:
    """Whatever a failing test leaves of its store's volumes and networks is removed after it."""
    yield
    if not (home / "state.db").exists():
        return
    store = FlowStore(home)
    mine = {"label": [f"{NODE}=1", f"{STORE}={store.store_id}"]}
    store.close()
    api = engine()
    try:
        for volume in api.volumes(filters=mine).get("Volumes") or []:
            api.remove_volume(volume["Name"], force=True)
        for network in api.networks(filters=mine):
            api.remove_network(network["Id"])
    finally:
        api.close()


def volume_exists(name: str) -> bool:
    api = engine()
    try:
        return any(v["Name"] == name for v in api.volumes().get("Volumes") or [])
    finally:
        api.close()


def test_leftovers_of_flows_that_are_over_or_gone_are_removed_when_a_run_starts(
    home: Path, foreign: str
) -> None:
    flow = interrupted_flow(home)
    kept = leftovers(flow.id)
    assert len(kept["volumes"]) == 1 and kept["networks"] == [f"nosana-{flow.id}"]

    run(home, job([{"id": "other", "args": {"cmd": "true"}}]))
    assert leftovers(flow.id) == kept  # an interrupted flow keeps them for its resumption

    store = FlowStore(home)
    try:  # its run ended while the engine did not answer: over, but its leftovers stayed
        over = store.load(flow.id)
        over.status, over.error = FlowStatus.FAILED, "the engine did not answer"
        store.save_flow(over)
        store_id = store.store_id
    finally:
        store.close()
    private = home / "flows" / flow.id / "private" / "0-copy"
    private.mkdir(parents=True)
    api = engine()
    gone = f"nosana-test-gone-{uuid.uuid4().hex[:8]}"
    api.create_volume(gone, labels={NODE: "1", STORE: store_id, FLOW: "a-flow-not-in-the-store"})
    api.close()  # (removed after the test by ``nothing_left`` if the sweep fails)

    events = Events()
    after = run(home, job([{"id": "next", "args": {"cmd": "true"}}]), reporter=events)
    assert after.status is FlowStatus.SUCCEEDED
    assert leftovers(flow.id) == {"volumes": [], "networks": []}
    assert not volume_exists(gone) and not private.parent.exists()
    assert "removed 2 volume(s), 1 network(s), 1 private directory(ies) of finished jobs" in events.messages
    assert volume_exists(foreign)


def test_flow_cleanup_keeps_interrupted_flows_unless_abandoned(home: Path, foreign: str) -> None:
    flow = interrupted_flow(home)
    kept = leftovers(flow.id)

    proc = cli("flow", "cleanup", home=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "nothing to clean up\n"
    assert leftovers(flow.id) == kept

    proc = cli("flow", "cleanup", "--abandon", home=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"gave up 1 unfinished flow(s): {flow.id}",
        "removed 1 volume(s), 1 network(s) of finished jobs",
    ]
    assert leftovers(flow.id) == {"volumes": [], "networks": []}
    store = FlowStore(home)
    try:
        assert store.status_of(flow.id) is FlowStatus.STOPPED
        assert "abandoned" in (store.load(flow.id).error or "")
    finally:
        store.close()
    resumed = cli("flow", "resume", flow.id, home=home)
    assert resumed.returncode != 0 and "Traceback" not in resumed.stderr
    assert volume_exists(foreign)
