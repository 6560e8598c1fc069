"""The SQLite flow store: persistence, ownership, resumable lookup, masking on write."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nosana_node.errors import UserInputError
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.flow.owner import RunnerIdentity, _start_ticks, current
from nosana_node.flow.results import ArtifactRecord, OpResults
from nosana_node.flow.store import FlowBusyError, FlowStore
from nosana_node.secrets.masking import process_masker


def make_flow(flow_id: str = "abc123def456") -> Flow:
    ops = [Op(id="a", type="t/x", args={"v": 1}), Op(id="b", type="t/x", args={"v": 2}, depends_on=["a"])]
    return Flow(id=flow_id, name="test", ops=ops, context={"NOS_JOB_ADDRESS": "J"}, source={"kind": "test"})


def dead_runner() -> RunnerIdentity:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    me = current()
    return RunnerIdentity(host=me.host, pid=proc.pid, start="1")


def test_create_load_and_save_op(tmp_path: Path) -> None:
    store = FlowStore(tmp_path)
    flow = make_flow()
    store.create(flow, source_key="k")
    state = flow.states["a"]
    state.status, state.run_count, state.exit_code = OpStatus.SUCCEEDED, 1, 0
    state.results = OpResults(artifacts={"x": ArtifactRecord("sha256:" + "0" * 64, 10, "out")})
    state.reason = None
    flow.status = FlowStatus.RUNNING
    store.save_op(flow, state)
    store.close()

    again = FlowStore(tmp_path).load("abc1")  # unique prefix
    assert again.to_json() == flow.to_json()
    assert again.states["a"].status is OpStatus.SUCCEEDED
    assert again.states["b"].status is OpStatus.PENDING


def test_store_identity_is_stable_and_distinct(tmp_path: Path) -> None:
    one = FlowStore(tmp_path / "one").store_id
    assert FlowStore(tmp_path / "one").store_id == one
    assert FlowStore(tmp_path / "two").store_id != one


def test_unknown_and_ambiguous_ids(tmp_path: Path) -> None:
    store = FlowStore(tmp_path)
    store.create(make_flow("aa0000000001"))
    store.create(make_flow("aa0000000002"))
    with pytest.raises(UserInputError, match="no flow 'zz'"):
        store.load("zz")
    with pytest.raises(UserInputError, match="ambiguous"):
        store.load("aa")
    assert store.load("aa0000000002").id == "aa0000000002"
    assert {f.id for f in store.list()} == {"aa0000000001", "aa0000000002"}


def test_claim_refuses_a_live_owner_and_takes_over_from_a_dead_one(tmp_path: Path) -> None:
    store = FlowStore(tmp_path)
    flow = make_flow()
    store.create(flow)
    live_other = RunnerIdentity(host=current().host, pid=1, start=_start_ticks(1) or "")  # pid 1: alive
    store.claim(flow.id, live_other)
    with pytest.raises(FlowBusyError, match="is being run by"):
        store.claim(flow.id, current())
    store.release(flow.id, live_other)
    store.claim(flow.id, dead_runner())
    store.claim(flow.id, current())  # the dead owner does not block
    assert store.runner_of(flow.id) == current()


def test_find_resumable_only_unfinished_with_dead_or_no_owner(tmp_path: Path) -> None:
    store = FlowStore(tmp_path)
    done, crashed = make_flow("f00000000001"), make_flow("f00000000002")
    store.create(done, source_key="same")
    done.status = FlowStatus.SUCCEEDED
    store.save_flow(done)
    assert store.find_resumable("same") is None
    store.create(crashed, source_key="same")
    crashed.status = FlowStatus.RUNNING
    store.save_flow(crashed)
    store.claim(crashed.id, dead_runner())
    assert store.find_resumable("same") == crashed.id
    assert store.find_resumable("other") is None
    store.claim(crashed.id, current())  # a live owner: not resumable by anyone else
    assert store.find_resumable("same") is None


def test_written_state_is_masked(tmp_path: Path) -> None:
    secret = "s3cr3t-value-for-store-test"
    store = FlowStore(tmp_path)
    flow = make_flow()
    store.create(flow)
    state = flow.states["a"]
    state.error = f"failed with {secret}"
    state.results = OpResults(values={"echo": secret})
    flow.error = f"flow failed with {secret}"
    with process_masker().scope("a flow") as scope:  # a flow's secret, masked while it runs
        scope.add(secret)
        store.save_op(flow, state)
    store.close()
    db = sqlite3.connect(tmp_path / "state.db")
    text = json.dumps(
        db.execute("SELECT doc FROM op_states").fetchall() + db.execute("SELECT error FROM flows").fetchall()
    )
    assert secret not in text
    assert "[MASKED]" in text


def test_log_paths_are_per_attempt(tmp_path: Path) -> None:
    store = FlowStore(tmp_path)
    flow = make_flow()
    one, two = store.log_path(flow, "b", 1), store.log_path(flow, "b", 2)
    assert one != two and one.parent == two.parent == tmp_path / "flows" / flow.id / "logs"
