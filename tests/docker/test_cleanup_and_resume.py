"""Containers never outlive their run: sweep of orphans, Ctrl-C/SIGTERM, and crash + resume.

The runner is the real CLI in a subprocess; "crash" is SIGKILL, so nothing of the runner's own
cleanup runs and the next run (``flow resume`` or the same ``pipeline run``) must cope.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import container, labels
from nosana_node.flow.owner import RunnerIdentity, current
from nosana_node.flow.store import FlowStore
from tests.corekit import (
    IMAGE,
    STORE_IDS,
    WAIT_FOR_GO,
    EngineEvents,
    cli,
    engine,
    leftover_containers,
    let_go,
    new_store,
    pipeline,
    start_cli,
    write,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def dead_runner() -> RunnerIdentity:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return RunnerIdentity(host=current().host, pid=proc.pid, start="1")


@pytest.fixture
def made(api: Any) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for cid in ids:
        container.remove(api, cid)


def _create(api: Any, store: str, runner: RunnerIdentity) -> str:
    spec = container.JobSpec(
        image=IMAGE,
        script="sleep 30",
        work_dir="/",
        env={},
        labels=labels.job_labels(store, runner, "f", "op"),
        name=None,
        cpus=1,
        memory=64 << 20,
        pids=64,
        gpus=None,
        network="bridge",
    )
    return container.create(api, spec)


def test_sweep_removes_only_orphans_of_its_own_store(api: Any, made: list[str]) -> None:
    mine, other = "test-sweep-mine", "test-sweep-other"
    STORE_IDS.extend([mine, other])
    orphan = _create(api, mine, dead_runner())
    api.start(orphan)  # running containers are swept too
    alive = _create(api, mine, current())
    foreign = _create(api, other, dead_runner())
    elsewhere = _create(api, mine, RunnerIdentity(host="another-host", pid=1, start="1"))
    made.extend([orphan, alive, foreign, elsewhere])
    assert labels.sweep_orphans(api, mine) == [orphan]
    left = {c["Id"] for c in labels.store_containers(api, mine)}
    assert left == {alive, elsewhere}
    assert {c["Id"] for c in labels.store_containers(api, other)} == {foreign}


SLOW = pipeline(
    "  - name: first\n    commands: ['mkdir -p out', 'echo one > out/one']\n"
    "    artifacts: [{name: one, path: out}]\n"
    "  - name: second\n"
    "    commands: ['echo MARK-SECOND', 'sleep 3', 'mkdir -p more', 'echo two > more/two']\n"
    "    artifacts: [{name: two, path: more}]\n"
    "  - name: third\n    resources: [{name: one}, {name: two}]\n    commands: ['cat out/one more/two']\n"
)


def _store_state(home: Path) -> dict[str, Any]:
    store = FlowStore(home)
    try:
        (summary,) = store.list()
        return store.load(summary.id).to_json()
    finally:
        store.close()


def _states(flow_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["op_id"]: s for s in flow_json["states"]}


def _running_container(home: Path) -> list[dict[str, Any]]:
    return [c for c in leftover_containers(home) if c["State"] == "running"]


#: SLOW, its second job waiting for the test's go (a signal never races the job's own end)
WAITING = SLOW.replace("'sleep 3'", f"'{WAIT_FOR_GO}'")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_removes_the_container_and_can_be_resumed(
    tmp_path: Path, home: Path, sig: int, code: int
) -> None:
    path = write(tmp_path, WAITING)
    store_id = new_store(home)
    with EngineEvents(store_id) as events:
        proc = start_cli("pipeline", "run", str(path), home=home)
        events.wait("start", count=2)  # the second job's container runs
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "error: interrupted; flow" in err and "flow resume" in err
    assert leftover_containers(home) == []
    saved = _store_state(home)
    assert saved["status"] == "interrupted"
    assert [s["status"] for s in saved["states"]] == ["succeeded", "interrupted", "pending"]

    with EngineEvents(store_id) as events:
        resuming = start_cli("flow", "resume", saved["id"][:6], "--json", home=home)
        (started,) = events.wait("start")  # the second job, again
        api = engine()
        try:
            let_go(api, started["id"])
        finally:
            api.close()
        out, err = resuming.communicate(timeout=120)
    assert resuming.returncode == 0, err
    result = json.loads(out)
    assert [j["attempts"] for j in result["jobs"]] == [1, 2, 1]
    assert "one\ntwo" in result["jobs"][2]["log"]["excerpt"]


def _tgkill(pid: int, tid: int, sig: int) -> None:
    """Send ``sig`` to one thread ``tid`` of process ``pid`` (Linux ``tgkill``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234, pid, tid, sig) != 0:  # SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), "tgkill")


def test_sigterm_delivered_to_another_thread_than_the_main_one_still_stops_the_run(
    tmp_path: Path, home: Path
) -> None:
    """The kernel hands a process's signal to any of its threads; one that lands on a thread
    other than the main one must still stop the run (the main thread is waiting for its jobs)."""
    path = write(tmp_path, WAITING)
    with EngineEvents(new_store(home)) as events:
        proc = start_cli("pipeline", "run", str(path), home=home)
        try:
            events.wait("start", count=2)  # the second job waits for a go that never comes
            other = next(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
            _tgkill(proc.pid, other, signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 143, err
    assert leftover_containers(home) == []
    assert _store_state(home)["status"] == "interrupted"


def test_sigterm_as_the_engine_creates_a_container_leaves_none(tmp_path: Path, home: Path) -> None:
    """SIGTERM the moment the engine has made the first job's container (before it starts): the
    container is removed, never left ``Created``, and the flow is resumable."""
    path = write(tmp_path, SLOW)
    with EngineEvents(new_store(home)) as events:
        proc = start_cli("pipeline", "run", str(path), home=home)
        events.wait("create")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "error: interrupted; flow" in err
    assert leftover_containers(home) == []
    saved = _store_state(home)
    assert saved["status"] == "interrupted" and saved["states"][0]["status"] in ("interrupted", "succeeded")


def test_crash_then_flow_resume_completes_without_rerunning_finished_jobs(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, SLOW)
    with EngineEvents(new_store(home)) as events:
        proc = start_cli("pipeline", "run", str(path), "--json", home=home)
        events.wait("start", count=2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    before = _store_state(home)
    assert before["status"] == "running"
    assert [s["status"] for s in before["states"]] == ["succeeded", "running", "pending"]
    assert _running_container(home), "the crashed runner's container is still there (an orphan)"

    resumed = cli("flow", "resume", before["id"], "--json", home=home)
    assert resumed.returncode == 0, resumed.stderr
    assert "removed 1 container(s) left by a runner that is gone" in resumed.stderr
    result = json.loads(resumed.stdout)
    after = _states(_store_state(home))
    first = _states(before)["first"]
    assert after["first"]["run_count"] == 1 and after["first"]["started_at"] == first["started_at"]
    assert after["first"]["results"] == first["results"]
    assert after["second"]["run_count"] == 2 and after["third"]["run_count"] == 1
    assert result["status"] == "succeeded" and result["flow_id"] == before["id"]
    assert "one\ntwo" in result["jobs"][2]["log"]["excerpt"]
    assert leftover_containers(home) == []
    again = cli("flow", "resume", before["id"], home=home)
    assert again.returncode == 0 and "already finished: succeeded" in again.stdout


def test_crash_then_running_the_pipeline_again_resumes_it(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, SLOW)
    with EngineEvents(new_store(home)) as events:
        proc = start_cli("pipeline", "run", str(path), home=home)
        events.wait("start", count=2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    flow_id = _store_state(home)["id"]

    rerun = cli("pipeline", "run", str(path), home=home)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming flow {flow_id}" in rerun.stdout
    assert "resuming: 1 of 3 already done" in rerun.stdout
    states = _states(_store_state(home))
    assert [states[j]["run_count"] for j in ("first", "second", "third")] == [1, 2, 1]

    fresh = cli("pipeline", "run", str(path), "--fresh", home=home)
    assert fresh.returncode == 0 and "resuming" not in fresh.stdout
    store = FlowStore(home)
    assert len(store.list()) == 2
    store.close()
