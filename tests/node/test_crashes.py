"""SIGKILL of the node at each step of a job, then a start on the same home: every job is finished
exactly once with the right result, a flow that finished is not run again, and no container is
left behind (the fixture checks the engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nosana_node.node.state import NodeDb, Step
from tests.chain.test_faults import Landed
from tests.corekit import WAIT_FOR_GO, EngineEvents, new_store
from tests.localnet.conftest import Served
from tests.node.conftest import NodeFactory
from tests.node.nodekit import Market, pipeline

QUEUED = r"waiting in the queue of market"


@pytest.mark.parametrize(
    ("point", "runs"),
    [
        ("claimed", 1),  # killed right after the run was saved as claimed
        ("mid-run", 2),  # killed while the container runs: it runs again (a new attempt)
        ("result-stored", 1),  # the flow had finished: never run again
        ("finish-signed", 1),  # finish signed and saved, never sent: the same bytes are sent
        ("finish-landed", 1),  # finish landed, not yet recorded: recognised by its signature
    ],
)
def test_killed_at_any_step_the_job_is_finished_exactly_once(
    point: str, runs: int, served: Served, tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    landed = Landed(served)
    home = tmp_path / "node"
    env = {} if point == "mid-run" else {"NOSANA_NODE_CRASH_AT": point}
    with EngineEvents(new_store(home)) as events:
        first = start_node(home=home, env=env)
        first.wait_line(QUEUED)
        commands = [WAIT_FOR_GO] if point == "mid-run" else []
        job = market.post(pipeline(*commands, "echo ran once"))
        if point == "mid-run":
            events.wait("start")
            first.kill()
        assert first.wait() == -9, first.output
        sent = None
        if point.startswith("finish"):
            sent = first.wait_line(rf"job {job} finish sent: (\w+)").group(1)

        second = start_node(keypair=first.keypair, home=home)
        if point == "mid-run":
            (_, restarted) = events.wait("start", count=2)
            from tests.corekit import engine, let_go

            api = engine()
            try:
                let_go(api, restarted["id"])
            finally:
                api.close()
        market.wait_done(job)
        second.wait_line(rf"job {job} finished")
        assert len(events.seen("start")) == runs
    assert landed.count()[("finish", str(job))] == 1
    landed.close()
    doc = market.result(job)
    assert doc["status"] == "succeeded" and doc["jobs"][0]["attempts"] == runs
    assert "ran once" in doc["jobs"][0]["log"]
    db = NodeDb(home)
    try:
        (record,) = db.for_job(str(job))
    finally:
        db.close()
    assert record.step is Step.FINISHED
    if sent is not None:  # the finish that landed is the one signed before the crash
        assert record.finish_signature == sent
    assert "recovering 1 run(s)" in second.output
