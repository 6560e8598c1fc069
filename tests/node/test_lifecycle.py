"""A job's life on a node and the node's own: stopped by its poster, expired, extended, already
expired when seen; shutdown while queued, draining, past the drain timeout, on a second signal; the
flow of a quit job kept while the job is open, given up once it ended on chain.
Containers are followed through the engine's event stream; nothing sleeps to order events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nosana_node.chain.accounts import JobState
from nosana_node.flow.model import FlowStatus
from nosana_node.flow.store import FlowStore
from nosana_node.node.state import NodeDb, Step
from tests.cli import REPO
from tests.corekit import WAIT_FOR_GO, EngineEvents, engine, event_time, new_store, signal_other_thread
from tests.jobdef.runkit import job as jobdef
from tests.jobdef.runkit import leftovers
from tests.localnet.conftest import Served
from tests.node.conftest import NodeFactory
from tests.node.nodekit import Market, NodeProcess, let_job_go, pipeline

QUEUED = r"waiting in the queue of market"


def _started(tmp_path: Path, start_node: NodeFactory, **kwargs: Any) -> tuple[NodeProcess, EngineEvents]:
    """A node with its container events followed from before it starts, waiting in the queue."""
    home = tmp_path / "node"
    events = EngineEvents(new_store(home))
    node = start_node(home=home, **kwargs)
    node.wait_line(QUEUED)
    return node, events


def _record(home: Path, job: object) -> Any:
    db = NodeDb(home)
    try:
        (record,) = db.for_job(str(job))
        return record
    finally:
        db.close()


def test_a_job_ended_by_its_poster_loses_its_container_within_2s_and_the_node_goes_on(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    node, events = _started(tmp_path, start_node)
    with events:
        job = market.post(pipeline("sleep 600"))
        events.wait("start")
        mark = node.mark()
        market.client.end(job)
        ended = time.time()
        (destroyed,) = events.wait("destroy")
        assert event_time(destroyed) - ended <= 2.0
    node.wait_line(rf"job {job} stopped on chain", since=mark)
    node.wait_line(QUEUED, since=mark)
    assert node.count(rf"job {job} stopped on chain") == 1  # each lifecycle event logged once
    account = market.client.job(job)
    assert account.state == JobState.DONE and not any(account.ipfs_result)  # no result: ended
    assert market.client.runs(job=job) == {}  # the run is released (closed by the chain)
    assert node.wallet in market.client.market(market.address).queue  # and the node serves again
    assert _record(node.home, job).step is Step.STOPPED


def test_a_job_past_its_deadline_is_killed_and_finished_expired(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    _, events = _started(tmp_path, start_node)
    with events:
        job = market.post(pipeline("echo before", "sleep 600"), timeout=3)
        events.wait("start")
        (destroyed,) = events.wait("destroy")
    account = market.wait_done(job)
    run_time = account.time_start
    assert event_time(destroyed) - (run_time + 3) <= 3.0  # the deadline (whole seconds) + 2 s
    doc = market.result(job)
    assert doc["status"] == "expired" and doc["reason"] == "expired" and "deadline" in doc["error"]
    assert doc["jobs"][0]["status"] == "expired" and "before" in doc["jobs"][0]["log"]
    assert doc["results"]["work"][0] == "expired"


def test_an_extend_seen_on_chain_moves_the_deadline(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    node, events = _started(tmp_path, start_node)
    with events:
        job = market.post(pipeline(WAIT_FOR_GO, "echo done"), timeout=4)
        (started,) = events.wait("start")
        run_time = next(iter(market.client.runs(job=job).values())).time
        market.client.extend(job, 3600)
        node.wait_line(rf"job {job} extended: deadline now")
        threading.Event().wait(max(0.0, run_time + 5 - time.time()))  # let the old deadline pass
        assert not events.seen("die"), "the container was stopped at the old deadline"
        let_job_go(started["id"])
        market.wait_done(job)
    doc = market.result(job)
    assert doc["status"] == "succeeded" and "done" in doc["jobs"][0]["log"]


def test_a_job_whose_deadline_passed_before_it_was_seen_is_finished_expired_at_once(
    served: Served, tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    _, events = _started(tmp_path, start_node)
    served.net.chain.warp(-3600)  # the run is made an hour in the past: its deadline is gone
    try:
        with events:
            job = market.post(pipeline("echo never"), timeout=60)
            market.wait_done(job)
            assert not events.seen("create")
    finally:
        served.net.chain.warp(3600)
    doc = market.result(job)
    assert doc["status"] == "expired" and "before it ran" in doc["error"] and doc["jobs"] == []


def test_sigterm_while_queued_leaves_the_queue_and_exits_0(market: Market, start_node: NodeFactory) -> None:
    node = start_node()
    node.wait_line(QUEUED)
    assert node.wallet in market.client.market(market.address).queue
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    assert "left the queue" in node.output
    assert node.wallet not in market.client.market(market.address).queue


def test_sigterm_taken_by_another_thread_than_the_main_one_still_stops_a_waiting_node(
    market: Market, start_node: NodeFactory
) -> None:
    """The kernel may hand SIGTERM to any thread of the node; a waiting node's main thread
    (blocked for up to a minute between reads of its market) still acts on it at once."""
    node = start_node()
    node.wait_line(QUEUED)
    signal_other_thread(node.proc.pid, signal.SIGTERM)
    assert node.wait(timeout=15) == 0
    assert "left the queue" in node.output


def test_sigterm_lets_the_running_job_finish_then_exits(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    node, events = _started(tmp_path, start_node)
    with events:
        job = market.post(pipeline(WAIT_FOR_GO, "echo drained"))
        (started,) = events.wait("start")
        ((run, account),) = market.client.runs(job=job).items()
        shown = _status(node)  # `node status` while the job runs: it is the current one
        assert shown["running"] and shown["pid"] == node.proc.pid and not shown["queue"]["queued"]
        assert shown["current"]["job"] == str(job) and shown["current"]["run"] == str(run)
        assert shown["current"]["step"] == "running"
        assert shown["runs_on_chain"] == [{"run": str(run), "job": str(job), "started": account.time}]
        node.signal(signal.SIGTERM)
        node.wait_line(rf"stopping: job {job} may finish within 10m")
        let_job_go(started["id"])
        assert node.wait() == 0
    assert market.client.job(job).state == JobState.DONE
    assert market.result(job)["status"] == "succeeded"
    assert node.count(QUEUED) == 1  # it did not join again
    shown = _status(node)  # and once it stopped
    assert not shown["running"] and shown["current"] is None and shown["runs_on_chain"] == []
    assert shown["recent"][0]["job"] == str(job) and shown["recent"][0]["step"] == "finished"


def _status(node: NodeProcess) -> Any:
    """``node status --json`` with the node's home, wallet and market."""
    done = subprocess.run(
        [sys.executable, "-m", "nosana_node", "node", "status", "--json"],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_past_the_drain_timeout_the_job_is_interrupted_and_its_run_quit(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    node, events = _started(tmp_path, start_node, env={"NOSANA_NODE_DRAIN_TIMEOUT": "1s"})
    with events:
        job = market.post(pipeline("sleep 600"))
        events.wait("start")
        node.signal(signal.SIGTERM)
        events.wait("destroy")
        assert node.wait() == 0
    assert node.count(rf"job {job} quit \(run") == 1 and "drain timeout passed" in node.output
    account = market.client.job(job)
    assert account.state == JobState.STOPPED and not market.client.runs(job=job)  # free to claim
    assert _record(node.home, job).step is Step.QUIT


def test_a_second_signal_skips_the_drain(tmp_path: Path, market: Market, start_node: NodeFactory) -> None:
    node, events = _started(tmp_path, start_node)
    with events:
        job = market.post(pipeline("sleep 600"))
        events.wait("start")
        node.signal(signal.SIGTERM)
        node.wait_line(r"may finish within 10m")
        node.signal(signal.SIGINT)
        events.wait("destroy")
        assert node.wait() == 0
    assert f"job {job} quit (run" in node.output and "second signal" in node.output
    assert market.client.job(job).state == JobState.STOPPED


def remove_leftovers(flow_id: str) -> None:
    """Whatever a failing test left of the flow's volumes and networks."""
    api = engine()
    try:
        for name in leftovers(flow_id)["volumes"]:
            api.remove_volume(name, force=True)
        for name in leftovers(flow_id)["networks"]:
            api.remove_network(name)
    finally:
        api.close()


def _flow_status(home: Path, job: object) -> Any:
    store = FlowStore(home)
    try:
        return store.status_of(str(job))
    finally:
        store.close()


def test_a_quit_jobs_flow_is_kept_while_the_job_is_open_and_given_up_once_it_ended(
    tmp_path: Path, market: Market, start_node: NodeFactory
) -> None:
    node, events = _started(tmp_path, start_node, env={"NOSANA_NODE_DRAIN_TIMEOUT": "1s"})
    ops = [
        {"id": "make", "type": "container/create-volume", "args": {"name": "data"}},
        {"id": "hold", "args": {"cmd": "sleep 600", "volumes": [{"name": "data", "dest": "/data"}]}},
    ]
    with events:
        job = market.post_document(jobdef(ops))
        events.wait("start")
        node.signal(signal.SIGTERM)
        assert node.wait() == 0
    try:
        assert _record(node.home, job).step is Step.QUIT
        kept = leftovers(str(job))
        assert kept["volumes"] and kept["networks"]
        # the quit job is Stopped (another node, or this one, may claim it): kept, resumable
        again = start_node(keypair=node.keypair, home=node.home)
        again.wait_line(QUEUED)
        assert again.stop() == 0
        assert _flow_status(node.home, job) is FlowStatus.INTERRUPTED and leftovers(str(job)) == kept
        # its poster recovers the deposit: the job account is gone, the flow can never resume
        market.client.recover(job)
        last = start_node(keypair=node.keypair, home=node.home)
        last.wait_line(QUEUED)
        assert "gave up 1 flow(s) of jobs that ended on chain" in last.output
        assert last.stop() == 0
        assert _flow_status(node.home, job) is FlowStatus.STOPPED
        assert leftovers(str(job)) == {"volumes": [], "networks": []}
    finally:
        remove_leftovers(str(job))
